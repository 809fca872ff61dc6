"""The retention job: hourly, coalesced, with the configured retention; prunes a real cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from finops_bot.store import connect
from scheduled import fleet


def test_the_retention_job_is_hourly_with_the_configured_days(db_path):
    scheduler = BackgroundScheduler(timezone=UTC)
    clock = lambda: datetime(2026, 11, 22, tzinfo=UTC)  # noqa: E731
    job = scheduler.get_job(fleet.register(scheduler, db_path, 7, clock))
    assert job.trigger.interval == timedelta(hours=1)
    assert job.args == (db_path, 7, clock) and job.coalesce and job.max_instances == 1


def test_the_job_prunes_the_cache(db_path):
    db = connect(db_path)
    old = (datetime.now(UTC) - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    with db.conn:
        db.execute("INSERT INTO gpu_minutes (node, gpu, minute) VALUES ('n', 'g', ?)", (old,))
    assert fleet.prune_heartbeats(db_path, datetime.now(UTC), keep_days=14) == 1
