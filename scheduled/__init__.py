"""APScheduler jobs (billing refresh, digests, idle sweeps); each takes ``now`` and deps.
Arrives with the billing-sources issue."""
