"""Open the cache (WAL, pragmas for bulk loads, migrations applied; created with mode 600),
take its write lock with a bounded wait, and say what SQLite's errors mean in one line."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from finops_bot.errors import FinopsError
from finops_bot.store.schema import migrations


class CacheError(FinopsError):
    """The cache cannot be read or written (read-only, busy, full, damaged)."""


class CacheBusy(CacheError):
    """Another process held the write lock for longer than the wait allowed."""


@dataclass(frozen=True)
class WriteWait:
    """How long a writer waits for another import or sync, and what it says once."""

    seconds: float = 600.0
    on_wait: Callable[[], None] | None = None


def connect(
    path: str | Path,
    *,
    migrate: bool = True,
    read_only: bool = False,
    busy_seconds: float = 10.0,
) -> Database:
    """Open (and create or upgrade) the cache at ``path``. One per thread / unit of work.
    A file this process may not write is opened read-only: questions still work."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise FinopsError(f"{path} is a folder; give a file path for the cache (--db)")
    if not path.parent.exists():
        raise FinopsError(f"folder {path.parent} does not exist; create it or choose another --db")
    read_only = read_only or (path.exists() and not os.access(path, os.W_OK))
    try:
        if read_only:
            return _open_read_only(path)
        if not path.exists():  # billing data is private: only this user may read the file
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = Database(path)
        db.enable_wal()
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("PRAGMA cache_size=-16384")
        db.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        if migrate:
            migrations.apply(db)
    except sqlite3.Error as exc:
        raise explain(exc, path) from None
    except OSError as exc:
        raise CacheError(f"cannot create the cache {path}: {exc.strerror}") from None
    return db


def _open_read_only(path: Path) -> Database:
    db = Database(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True))
    db.execute("PRAGMA query_only=ON")
    db.execute("PRAGMA busy_timeout=10000")
    if migrations.pending(db):
        raise CacheError(
            f"{path} is read-only and was written by an older finops-bot: open it once "
            "where it may be written (an import, sync or status) to upgrade it"
        )
    return db


def begin_write(conn: sqlite3.Connection, wait: WriteWait | None = None) -> None:
    """BEGIN IMMEDIATE. When another process holds the write lock: ``wait.on_wait()`` once,
    then wait up to ``wait.seconds``; CacheBusy after that."""
    if wait is None:
        conn.execute("BEGIN IMMEDIATE")
        return
    (before,) = conn.execute("PRAGMA busy_timeout").fetchone()
    try:
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
        if wait.on_wait is not None:
            wait.on_wait()
        conn.execute(f"PRAGMA busy_timeout={int(wait.seconds * 1000)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            raise CacheBusy(
                f"another import or sync still held the cache after {wait.seconds:g} s; "
                "nothing was written. Run it again when that one is done, or give --wait "
                "more seconds"
            ) from None
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(before)}")


def is_busy(exc: BaseException) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text


def explain(exc: sqlite3.Error, path: str | Path | None = None) -> CacheError:
    """SQLite's error as one line for a person: what is wrong with the cache, what to do."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    cache = f"the cache {path}" if path else "the cache"
    said = f"(SQLite: {exc})"
    if isinstance(exc, CacheError):
        return exc
    if name.startswith("SQLITE_READONLY") or "readonly" in str(exc):
        why = (
            f"{cache} is read-only (file permissions, a read-only disk or an immutable "
            f"file): nothing was written. Make it writable or choose another --db {said}"
        )
    elif is_busy(exc):
        why = (
            f"{cache} is busy: another process (an import or sync) holds its write lock. "
            f"Try again when it is done {said}"
        )
    elif name == "SQLITE_FULL" or "full" in str(exc):
        why = (
            f"the disk holding {cache} is full (or the cache reached its size limit): "
            f"nothing was written. Free some space and run it again {said}"
        )
    elif name == "SQLITE_NOTADB" or "not a database" in str(exc):
        why = f"{cache} is not a finops-bot cache (not an SQLite file); choose another --db"
    elif name.startswith("SQLITE_CORRUPT") or "malformed" in str(exc):
        why = (
            f"{cache} is damaged {said}: restore it from a backup, or move it aside and "
            "import or sync again (billing data can always be loaded again)"
        )
    elif name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        why = f"cannot open {cache}: check the file's and its folder's permissions {said}"
    elif name.startswith("SQLITE_IOERR"):
        why = f"a disk error on {cache} {said}: check the disk; nothing was half-written"
    else:
        why = f"{cache}: SQLite error {said}"
    return CacheError(why)
