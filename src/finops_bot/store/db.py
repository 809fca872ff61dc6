"""Open the cache: WAL, pragmas for bulk loads, migrations applied."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from finops_bot.errors import FinopsError
from finops_bot.store.schema import migrations


def connect(path: str | Path, *, migrate: bool = True) -> Database:
    """Open (and create or upgrade) the cache at ``path``. One per thread / unit of work."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise FinopsError(f"{path} is a folder; give a file path for the cache (--db)")
    if not path.parent.exists():
        raise FinopsError(f"folder {path.parent} does not exist; create it or choose another --db")
    try:
        db = Database(path)
        db.enable_wal()
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("PRAGMA cache_size=-16384")
        db.execute("PRAGMA busy_timeout=10000")
        if migrate:
            migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise FinopsError(f"{path} is not a finops-bot cache (SQLite said: {exc})") from None
    return db
