"""Sync: pull each source's windows into the cache. One failing source never blocks the
others; each window lands atomically; the outcome is recorded for `status`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlite_utils import Database

from finops_bot.errors import FinopsError
from finops_bot.ingest.importer import load_batches
from finops_bot.ingest.normalize import FOCUS_FIELDS
from finops_bot.ingest.tags import TagRules
from finops_bot.sources.base import BillingSource, SyncWindow
from finops_bot.sources.windows import sync_windows

log = logging.getLogger("finops_bot.sync")
FIELD_OF = {name: f for f, name in FOCUS_FIELDS.items()}


@dataclass
class SyncResult:
    source: str
    windows: list[SyncWindow] = field(default_factory=list)
    rows: int = 0
    api_calls: int = 0
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def sync_source(
    db: Database,
    source: BillingSource,
    *,
    today: date,
    now: datetime,
    rules: TagRules,
    refresh_days: int = 5,
    since: date | None = None,
) -> SyncResult:
    result = SyncResult(source.name)
    began = time.perf_counter()
    windows = sync_windows(today, refresh_days, since)
    try:
        for window in windows:
            loaded = load_batches(
                db,
                source.fetch(window),
                FIELD_OF,
                source=source.name,
                kind=source.kind,
                rules=rules,
                now=now,
                window=(window.start, window.end),
                allow_empty=True,
            )
            result.windows.append(window)
            result.rows += loaded.rows_stored
            result.api_calls += source.api_calls
    except FinopsError as exc:
        result.api_calls += getattr(source, "api_calls", 0)
        result.error = str(exc)
    except Exception as exc:  # a source's bug must not stop the others; logged in full
        log.exception("sync of %s failed", source.name)
        result.api_calls += getattr(source, "api_calls", 0)
        result.error = f"{source.name}: unexpected error ({type(exc).__name__}: {exc}); see the log"
    result.seconds = time.perf_counter() - began
    _record(db, source, result, windows, now)
    return result


def _record(
    db: Database,
    source: BillingSource,
    result: SyncResult,
    windows: list[SyncWindow],
    now: datetime,
) -> None:
    stamp = now.isoformat(timespec="seconds")
    with db.conn:
        db.execute(
            "INSERT INTO source_status (name, kind) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
            (source.name, source.kind),
        )
        db.execute(
            "UPDATE source_status SET last_attempt_at = ?, window_start = ?, window_end = ?, "
            "rows_last = ?, api_calls_last = ?, api_calls_total = api_calls_total + ? "
            "WHERE name = ?",
            (
                stamp,
                str(windows[0].start) if windows else None,
                str(windows[-1].end) if windows else None,
                result.rows,
                result.api_calls,
                result.api_calls,
                source.name,
            ),
        )
        if result.ok:
            db.execute(
                "UPDATE source_status SET last_success_at = ? WHERE name = ?", (stamp, source.name)
            )
        else:
            db.execute(
                "UPDATE source_status SET last_error = ?, last_error_at = ? WHERE name = ?",
                (result.error, stamp, source.name),
            )
