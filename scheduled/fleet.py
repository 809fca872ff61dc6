"""GPU fleet housekeeping: heartbeat rollups are kept 14 days ([fleet] retention_days),
pruned every hour in small transactions so the endpoint keeps writing meanwhile. The job
takes ``now`` from the clock bot/ hands it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler

from finops_bot.gpu.heartbeat import prune
from finops_bot.store import connect


def prune_heartbeats(db_path: Path, now: datetime, keep_days: int = 14) -> int:
    db = connect(db_path)
    try:
        return prune(db, now, keep_days)
    finally:
        db.close()


def _run(db_path: Path, keep_days: int, clock: Callable[[], datetime]) -> int:
    return prune_heartbeats(db_path, clock(), keep_days)


def register(
    scheduler: BaseScheduler, db_path: Path, keep_days: int, clock: Callable[[], datetime]
) -> str:
    job = scheduler.add_job(
        _run,
        "interval",
        args=[db_path, keep_days, clock],
        hours=1,
        id="fleet-retention",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    return job.id
