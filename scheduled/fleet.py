"""GPU fleet housekeeping: heartbeat rollups are kept 14 days ([fleet] retention_days),
pruned every hour in small transactions so the endpoint keeps writing meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler

from finops_bot.gpu.heartbeat import prune
from finops_bot.store import connect


def prune_heartbeats(db_path: Path, keep_days: int = 14) -> int:
    db = connect(db_path)
    try:
        return prune(db, datetime.now(UTC), keep_days)
    finally:
        db.close()


def register(scheduler: BaseScheduler, db_path: Path, keep_days: int = 14) -> str:
    job = scheduler.add_job(
        prune_heartbeats,
        "interval",
        args=[db_path, keep_days],
        hours=1,
        id="fleet-retention",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    return job.id
