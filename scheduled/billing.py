"""Each billing source syncs on its own interval (default 6 h): missed runs coalesce into
one, and a source never runs twice at once. ``first_run`` (from bot/'s clock) runs every
source once at start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.base import BaseScheduler

from finops_bot.sources.base import SourceConfig


def register(
    scheduler: BaseScheduler,
    sources: tuple[SourceConfig, ...],
    run_sync: Callable[[str], object],
    first_run: datetime | None = None,
) -> list[str]:
    ids = []
    start = {"next_run_time": first_run} if first_run else {}
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
            **start,
        )
        ids.append(job.id)
    return ids
