"""Sync: pull each source's windows into the cache. One failing source never blocks the
others; each window lands atomically; the outcome is recorded for `status`."""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlite_utils import Database

from finops_bot.errors import FinopsError
from finops_bot.ingest.importer import load_columns
from finops_bot.ingest.tags import TagRules
from finops_bot.sources.base import BillingSource, SyncWindow
from finops_bot.sources.windows import sync_windows
from finops_bot.store.db import CacheError, WriteWait, explain

log = logging.getLogger("finops_bot.sync")


@dataclass
class SyncResult:
    source: str
    windows: list[SyncWindow] = field(default_factory=list)
    rows: int = 0
    api_calls: int = 0
    error: str | None = None
    seconds: float = 0.0
    unchanged: list[SyncWindow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cache_error: bool = False  # the cache could not be written (not the source's fault)

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
    wait: WriteWait | None = None,
) -> SyncResult:
    """``wait``: how long each window waits for another import or sync holding the cache."""
    result = SyncResult(source.name)
    began = time.perf_counter()
    windows = sync_windows(today, refresh_days, since)
    granularity = getattr(source, "window_granularity", "range")
    if granularity == "month":
        windows = whole_months(windows)
    elif granularity == "day":  # each day compared and replaced on its own
        windows = [
            SyncWindow(w.start + timedelta(days=i), w.start + timedelta(days=i))
            for w in windows
            for i in range(w.days)
        ]
    busy = False
    try:
        for window in windows:
            files = None
            if hasattr(source, "manifest"):  # file exports: skip months whose files are the same
                files = source.manifest(window)
                result.api_calls += source.api_calls
                if not files:
                    if granularity == "month":
                        result.notes.append(f"{window.start:%Y-%m}: no export files yet")
                    continue
                if files == _stored_files(db, source.name, window):
                    result.unchanged.append(window)
                    continue
            batches = source.fetch(window, files) if files is not None else source.fetch(window)
            loaded = load_columns(
                db,
                batches,
                source=source.name,
                kind=source.kind,
                rules=rules,
                now=now,
                window=(window.start, window.end),
                allow_empty=True,
                wait=wait,
            )
            if files is not None:
                _store_files(db, source.name, window, files, now)
            result.windows.append(window)
            result.rows += loaded.rows_stored
            result.api_calls += source.api_calls
    except FinopsError as exc:
        result.api_calls += getattr(source, "api_calls", 0)
        result.error = str(exc)
        busy = result.cache_error = isinstance(exc, CacheError)
    except sqlite3.Error as exc:  # the cache: read-only, full, damaged
        result.api_calls += getattr(source, "api_calls", 0)
        result.error = str(explain(exc))
        busy = result.cache_error = True
    except Exception as exc:  # a source's bug must not stop the others; logged in full
        log.exception("sync of %s failed", source.name)
        result.api_calls += getattr(source, "api_calls", 0)
        result.error = f"{source.name}: unexpected error ({type(exc).__name__}: {exc}); see the log"
    result.seconds = time.perf_counter() - began
    if not busy:  # a sync that could not write the cache cannot record that either
        _record(db, source, result, windows, now)
    return result


def refresh_source(db: Database, source, *, now: datetime) -> SyncResult:
    """Metadata sources (accounts, prices): reload, record the outcome like a sync."""
    result = SyncResult(source.name)
    began = time.perf_counter()
    try:
        result.rows = source.refresh(db, now)
    except FinopsError as exc:
        result.error = str(exc)
    except Exception as exc:  # logged in full; the other sources go on
        log.exception("refresh of %s failed", source.name)
        result.error = f"{source.name}: unexpected error ({type(exc).__name__}: {exc}); see the log"
    result.api_calls = getattr(source, "api_calls", 0)
    result.seconds = time.perf_counter() - began
    _record(db, source, result, [], now)
    return result


def whole_months(windows: list[SyncWindow]) -> list[SyncWindow]:
    months: list[SyncWindow] = []
    for w in windows:
        first = w.start.replace(day=1)
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        if not months or months[-1].start != first:
            months.append(SyncWindow(first, last))
    return months


def _stored_files(db: Database, source: str, window: SyncWindow) -> list[tuple[str, str]]:
    return [
        (k, e)
        for k, e in db.execute(
            "SELECT key, etag FROM export_files WHERE source = ? AND period = ? ORDER BY key",
            (source, _period(window)),
        )
    ]


def _period(window: SyncWindow) -> str:
    return str(window.start) if window.start == window.end else f"{window.start:%Y-%m}"


def _store_files(
    db: Database, source: str, window: SyncWindow, files: list[tuple[str, str]], now: datetime
) -> None:
    period = _period(window)
    with db.conn:
        db.execute("DELETE FROM export_files WHERE source = ? AND period = ?", (source, period))
        db.conn.executemany(
            "INSERT INTO export_files (source, period, key, etag, loaded_at) VALUES (?,?,?,?,?)",
            [(source, period, k, e, now.isoformat(timespec="seconds")) for k, e in files],
        )


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
