"""What /healthz says about the cache beyond "readable": the last `PRAGMA quick_check` (run
at start and hourly on a read-only connection, so it never takes the write lock) and the
writers that failed since their last success (heartbeats, billing syncs, retention)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from finops_bot.store import connect
from finops_bot.store.db import explain


class CacheHealth:
    def __init__(self, db_path: Path, clock: Callable[[], datetime]):
        self.db_path = db_path
        self.clock = clock
        self._lock = threading.Lock()
        self._integrity: dict = {"ok": None, "checked_at": None, "result": "not checked yet"}
        self._failed: dict[str, dict] = {}

    def check(self, now: datetime | None = None) -> dict:
        """Run quick_check now (the scheduled job and the start call this)."""
        import sqlite3

        at = (now or self.clock()).isoformat(timespec="seconds")
        try:
            db = connect(self.db_path, read_only=True)
            try:
                rows = [r[0] for r in db.execute("PRAGMA quick_check(5)").fetchall()]
            finally:
                db.close()
            ok = rows == ["ok"]
            result = "ok" if ok else "; ".join(rows)
        except sqlite3.Error as exc:
            ok, result = False, str(explain(exc, self.db_path))
        except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
            ok, result = False, str(exc)
        with self._lock:
            self._integrity = {"ok": ok, "checked_at": at, "result": result}
            return dict(self._integrity)

    def write_failed(self, writer: str, error: BaseException | str) -> None:
        import sqlite3

        text = str(explain(error, self.db_path)) if isinstance(error, sqlite3.Error) else str(error)
        at = self.clock().isoformat(timespec="seconds")
        with self._lock:
            self._failed[writer] = {"writer": writer, "at": at, "error": text}

    def write_ok(self, writer: str) -> None:
        with self._lock:
            self._failed.pop(writer, None)

    def report(self) -> tuple[bool, dict]:
        with self._lock:
            integrity = dict(self._integrity)
            failed = sorted(self._failed.values(), key=lambda f: f["writer"])
        ok = integrity["ok"] is not False and not failed
        return ok, {"integrity": integrity, "failed_writes": failed}
