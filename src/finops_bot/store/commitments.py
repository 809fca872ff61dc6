"""FOCUS 1.3 Contract Commitment rows: what each contract commits to, per source.

A source's commitments are replaced as a whole, in one write transaction: importing the
same file twice (or the same content under another path) stores it once, a newer file
for the same source replaces the older one, and two processes importing at once leave one
copy (the write lock serialises them).
Periods are ISO dates (UTC); ``period_end`` is the spec's exclusive end bound."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, timedelta

from sqlite_utils import Database

from finops_bot.store.db import WriteWait, begin_write


@dataclass(frozen=True)
class Terms:
    """What one Contract Commitment row says (the file's fields, no provenance)."""

    id: str  # ContractCommitmentId
    period_start: str  # ContractCommitmentPeriodStart, ISO date, inclusive
    period_end: str  # ContractCommitmentPeriodEnd, ISO date, exclusive
    contract_id: str | None = None
    type: str | None = None
    category: str | None = None  # Spend | Usage
    description: str | None = None
    cost: float | None = None  # in ``currency`` (BillingCurrency)
    currency: str | None = None
    quantity: float | None = None  # in ``unit``
    unit: str | None = None
    contract_period_start: str | None = None
    contract_period_end: str | None = None


@dataclass(frozen=True, kw_only=True)
class Commitment(Terms):
    """A stored commitment: its terms, the source that holds it and when it was loaded."""

    source: str
    loaded_at: str


TERM_COLUMNS = tuple(f.name for f in fields(Terms))
COLUMNS = (*TERM_COLUMNS, "source", "loaded_at")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM commitments"


@dataclass(frozen=True)
class Replaced:
    """What a replace removed: the rows the source held, and the other sources that held
    exactly the same rows (the same file imported under another path)."""

    rows: int
    copies: tuple[str, ...] = ()


def replace(
    db: Database,
    source: str,
    rows: Iterable[Terms],
    loaded_at: str,
    wait: WriteWait | None = None,
) -> Replaced:
    """Make ``rows`` the commitments ``source`` holds, in one write transaction; another
    source holding exactly these rows is dropped (the same content is stored once)."""
    terms = [tuple(getattr(r, c) for c in TERM_COLUMNS) for r in rows]
    conn = db.conn
    begin_write(conn, wait)
    try:
        (before,) = conn.execute(
            "SELECT COUNT(*) FROM commitments WHERE source = ?", (source,)
        ).fetchone()
        copies = _copies(db, source, terms)
        for other in (source, *copies):
            conn.execute("DELETE FROM commitments WHERE source = ?", (other,))
        conn.executemany(
            f"INSERT INTO commitments ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(COLUMNS))})",
            [(*t, source, loaded_at) for t in terms],
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return Replaced(before, copies)


def _copies(db: Database, source: str, terms: list[tuple]) -> tuple[str, ...]:
    """The other sources whose rows are exactly ``terms``."""
    wanted = sorted(terms, key=repr)
    others = db.execute(
        "SELECT source FROM commitments WHERE source != ? GROUP BY source HAVING COUNT(*) = ?",
        (source, len(terms)),
    ).fetchall()
    found = []
    for (other,) in others:
        held = db.execute(
            f"SELECT {', '.join(TERM_COLUMNS)} FROM commitments WHERE source = ?", (other,)
        ).fetchall()
        if sorted(map(tuple, held), key=repr) == wanted:
            found.append(other)
    return tuple(found)


def commitments(db: Database) -> list[Commitment]:
    """Every stored commitment, by source, id and period start."""
    rows = db.execute(f"{_SELECT} ORDER BY source, id, period_start").fetchall()
    return [_commitment(row) for row in rows]


def expiring(db: Database, today: date, days: int) -> list[Commitment]:
    """Commitments whose period ends between ``today`` and ``today + days`` (inclusive),
    soonest first."""
    last = today + timedelta(days=days)
    rows = db.execute(
        f"{_SELECT} WHERE period_end BETWEEN ? AND ? ORDER BY period_end, id, source",
        (today.isoformat(), last.isoformat()),
    ).fetchall()
    return [_commitment(row) for row in rows]


def _commitment(row: tuple) -> Commitment:
    return Commitment(**dict(zip(COLUMNS, row, strict=True)))
