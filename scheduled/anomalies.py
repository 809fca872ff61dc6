"""Anomaly detection in serve: after each billing sync, and whenever the cache holds a new
load (an `import` run by hand, another process): checked every few minutes against the
cache's version, so detection never runs inside the import command and is idempotent
(the same data: the same anomalies, stored once). The job takes ``now`` from bot/'s clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler

from finops_bot.anomalies.rules import AnomalyRules
from finops_bot.anomalies.run import find, save
from finops_bot.store import connect, reads
from finops_bot.store.anomalies import Saved
from finops_bot.store.db import WriteWait

log = logging.getLogger("finops_bot.anomalies")
CHECK_MINUTES = 5


class Detector:
    """Runs detection when the cache changed since it last ran (or when told to)."""

    def __init__(self, db_path: Path, rules: AnomalyRules, measure: str):
        self.db_path, self.rules, self.measure = db_path, rules, measure
        self._seen: tuple | None = None

    def run(self, now: datetime, force: bool = False) -> Saved | None:
        db = connect(self.db_path)
        try:
            version = reads.cache_version(db)
            if not force and version == self._seen:
                return None
            _, last = reads.data_span(db)
            if last is None:
                self._seen = version
                return None
            through = min(date.fromisoformat(last), now.date())
            result = find(db, self.rules, through, self.measure)
            saved = save(db, result, self.rules.dimensions, now, self.measure, WriteWait(600))
            self._seen = version
        finally:
            db.close()
        if saved.new or saved.withdrawn:
            log.info(
                "anomalies through %s: %d new, %d updated, %d withdrawn (%d series)",
                through, len(saved.new), saved.updated, len(saved.withdrawn), result.series,
            )  # fmt: skip
        return saved


def detect_now(detector: Detector, now: datetime, force: bool = False) -> Saved | None:
    """The job body: never raises into the scheduler (a failure is logged, tried again)."""
    try:
        return detector.run(now, force)
    except Exception:  # noqa: BLE001 - logged with its trace; the next check tries again
        log.exception("anomaly detection failed")
        return None


def register(
    scheduler: BaseScheduler,
    detector: Detector,
    clock: Callable[[], datetime],
    first_run: datetime | None = None,
) -> str:
    start = {"next_run_time": first_run} if first_run else {}
    job = scheduler.add_job(
        lambda: detect_now(detector, clock()),
        "interval",
        minutes=CHECK_MINUTES,
        id="anomaly-detection",
        name="anomaly detection (when the cache changed)",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
        **start,
    )
    return job.id
