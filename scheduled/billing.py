"""Each billing source syncs on its own interval (default 6 h): missed runs coalesce into
one, and a source never runs twice at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler

from finops_bot.sources.base import SourceConfig


def register(
    scheduler: BaseScheduler,
    sources: tuple[SourceConfig, ...],
    run_sync: Callable[[str], object],
    start_now: bool = True,
) -> list[str]:
    ids = []
    first_run = {"next_run_time": datetime.now(UTC)} if start_now else {}
    for config in sources:
        job = scheduler.add_job(
            run_sync,
            "interval",
            args=[config.name],
            hours=config.interval_hours,
            id=f"billing-sync:{config.name}",
            name=f"billing sync {config.name}",
            coalesce=True,  # a backlog of missed runs is one run
            max_instances=1,  # never two syncs of one source at once
            misfire_grace_time=3600,
            replace_existing=True,
            **first_run,
        )
        ids.append(job.id)
    return ids
