"""The cache's integrity check: `PRAGMA quick_check` hourly (and once at start), its result
kept for /healthz. The job takes ``now`` from the clock bot/ hands it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from apscheduler.schedulers.base import BaseScheduler


class Checks(Protocol):
    def check(self, now: datetime | None = None) -> dict: ...


def check_cache(checks: Checks, now: datetime) -> dict:
    return checks.check(now)


def register(
    scheduler: BaseScheduler,
    checks: Checks,
    clock: Callable[[], datetime],
    first_run: datetime | None = None,
) -> str:
    start = {"next_run_time": first_run} if first_run else {}
    job = scheduler.add_job(
        lambda: check_cache(checks, clock()),
        "interval",
        hours=1,
        id="cache-quick-check",
        name="cache quick_check",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
        **start,
    )
    return job.id
