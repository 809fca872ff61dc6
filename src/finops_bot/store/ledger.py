"""The digest ledger: what decides whether a digest is posted, not the scheduler's memory.
A post is claimed in a write transaction before ``chat.postMessage`` (so two processes
never both post it), then given its message ts; a claim with no ts after ``RETRY_AFTER`` is
claimed again once; a forced repost is recorded as an attempt of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from finops_bot.store.db import WriteWait, begin_write

RETRY_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 2  # the first claim and one retry (forced reposts aside)


@dataclass(frozen=True)
class Claim:
    digest: str
    target: str
    local_date: str
    attempt: int


def claim(
    db: Database,
    digest: str,
    target: str,
    local_date: str,
    now: datetime,
    *,
    force: bool = False,
    wait: WriteWait | None = None,
) -> Claim | None:
    """The right to post this digest to ``target`` for ``local_date``, or None when it was
    posted (or is being posted) already."""
    at = now.isoformat(timespec="seconds")
    conn = db.conn
    begin_write(conn, wait)
    try:
        rows = conn.execute(
            "SELECT attempt, claimed_at, ts FROM digest_posts WHERE digest = ? AND target = ? "
            "AND local_date = ? ORDER BY attempt",
            (digest, target, local_date),
        ).fetchall()
        attempt = (rows[-1][0] + 1) if rows else 1
        if rows and not force:
            posted = any(ts for _, _, ts in rows)
            stale = now - datetime.fromisoformat(rows[-1][1]) >= RETRY_AFTER
            if posted or not stale or len(rows) >= MAX_ATTEMPTS:
                conn.execute("ROLLBACK")
                return None
        conn.execute(
            "INSERT INTO digest_posts (digest, target, local_date, attempt, claimed_at, forced) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (digest, target, local_date, attempt, at, int(force)),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return Claim(digest, target, local_date, attempt)


def posted(db: Database, c: Claim, ts: str, now: datetime) -> None:
    with db.conn:
        db.execute(
            "UPDATE digest_posts SET ts = ?, posted_at = ?, error = NULL WHERE digest = ? "
            "AND target = ? AND local_date = ? AND attempt = ?",
            (ts, now.isoformat(timespec="seconds"), c.digest, c.target, c.local_date, c.attempt),
        )


def failed(db: Database, c: Claim, error: str) -> None:
    with db.conn:
        db.execute(
            "UPDATE digest_posts SET error = ? WHERE digest = ? AND target = ? "
            "AND local_date = ? AND attempt = ?",
            (error[:500], c.digest, c.target, c.local_date, c.attempt),
        )


def problems(db: Database, since: str) -> list[tuple[str, str, str, str]]:
    """(digest, target, local date, error) of posts that failed since ``since`` (ISO)."""
    return db.execute(
        "SELECT digest, target, local_date, error FROM digest_posts WHERE error IS NOT NULL "
        "AND ts IS NULL AND claimed_at >= ? ORDER BY claimed_at DESC",
        (since,),
    ).fetchall()


def has_row(db: Database, digest: str, target: str, local_date: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM digest_posts WHERE digest = ? AND target = ? AND local_date = ? LIMIT 1",
        (digest, target, local_date),
    ).fetchone()
    return row is not None


def mute(db: Database, user_id: str, until: datetime, now: datetime) -> None:
    """Mute a person's digest DMs until ``until`` (``until`` ≤ now: unmute)."""
    with db.conn:
        db.execute(
            "INSERT INTO digest_mutes (user_id, until, set_at) VALUES (?, ?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET until = excluded.until, set_at = excluded.set_at",
            (user_id, until.isoformat(timespec="seconds"), now.isoformat(timespec="seconds")),
        )


def muted(db: Database, user_id: str, now: datetime) -> bool:
    row = db.execute("SELECT until FROM digest_mutes WHERE user_id = ?", (user_id,)).fetchone()
    return row is not None and row[0] > now.isoformat(timespec="seconds")
