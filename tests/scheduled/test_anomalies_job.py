"""Detection in serve: a job every few minutes that runs only when the cache holds a new
load (an import by hand, a sync), idempotent, never raising into the scheduler."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from finops_bot.anomalies.rules import AnomalyRules
from finops_bot.demo import load_demo
from finops_bot.ingest.tags import TagRules
from finops_bot.store import connect
from scheduled import anomalies
from tests.conftest import NOW, TODAY

LATER = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)


def test_the_job_is_coalesced_every_few_minutes(db_path):
    scheduler = BackgroundScheduler(timezone=UTC)
    detector = anomalies.Detector(db_path, AnomalyRules(), "EffectiveCost")
    job = scheduler.get_job(anomalies.register(scheduler, detector, lambda: LATER))
    assert job.trigger.interval == timedelta(minutes=anomalies.CHECK_MINUTES)
    assert job.coalesce and job.max_instances == 1


def test_it_runs_when_a_load_lands_and_only_then(db_path, caplog):
    caplog.set_level(logging.INFO, "finops_bot.anomalies")
    detector = anomalies.Detector(db_path, AnomalyRules(), "EffectiveCost")
    assert anomalies.detect_now(detector, LATER) is None  # an empty cache: nothing to do
    db = connect(db_path)
    load_demo(db, TODAY, NOW, TagRules({"project": ("project",), "team": ("team",)}))
    first = anomalies.detect_now(detector, LATER)
    assert first is not None and first.new
    assert anomalies.detect_now(detector, LATER) is None  # unchanged: not run again
    forced = anomalies.detect_now(detector, LATER, force=True)
    assert forced.new == () and forced.updated == 0  # idempotent
    stored = db.execute("SELECT COUNT(*) FROM anomalies WHERE status != 'withdrawn'")
    assert stored.fetchone()[0] == len(first.new)
    assert any("new" in r.getMessage() for r in caplog.records)
    db.close()


def test_a_failure_is_logged_not_raised(tmp_path, caplog):
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    detector = anomalies.Detector(folder, AnomalyRules(), "EffectiveCost")
    assert anomalies.detect_now(detector, LATER) is None
    assert any("anomaly detection failed" in r.getMessage() for r in caplog.records)
