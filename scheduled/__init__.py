"""APScheduler jobs (billing refresh now; digests and idle sweeps later). Thin: each job
calls the core with ``now`` and its dependencies; register(scheduler, ...) adds them."""
