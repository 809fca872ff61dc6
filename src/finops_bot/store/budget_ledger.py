"""The budget ladder's ledger: which thresholds each budget's period has crossed.

``record`` runs in one write transaction: a threshold crossed for the first time is
inserted (the primary key makes a second process's insert a no-op), one whose spend fell
back below it after a restatement is marked un-crossed (once), and a re-crossing clears
that mark on the same row: never a new crossing, and a target already told is never
told again, while one a failed post missed still is. Posting itself goes through the
digest ledger (store.ledger), keyed by the crossing, so each is posted at most once per
target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from finops_bot.store.db import begin_write

FORECAST = "forecast"  # the threshold name of "the forecast is over forecast_threshold %"


@dataclass(frozen=True)
class Crossing:
    budget: str
    period_start: str
    threshold: str  # "50", "80", "100" … or "forecast"
    crossed_at: str
    data_through: str | None
    spent: float | None
    amount: float
    currency: str
    uncrossed_at: str | None = None
    uncrossed_spent: float | None = None
    noted_at: str | None = None

    @property
    def post_key(self) -> str:
        """What the digest ledger knows this crossing's posts by."""
        return f"budget:{self.budget}:{self.threshold}"


@dataclass(frozen=True)
class Reading:
    """One check of one budget's period: what it spent and which thresholds are crossed."""

    budget: str
    period_start: str
    amount: float
    currency: str
    spent: float
    data_through: str | None
    crossed: frozenset[str]  # thresholds at or above (and "forecast" when it is over)
    below: frozenset[str]  # thresholds now below (a restatement may un-cross one)


def record(db: Database, reading: Reading, now: datetime) -> list[str]:
    """Store one reading; → the thresholds crossed for the first time (in this call)."""
    at = now.isoformat(timespec="seconds")
    conn = db.conn
    begin_write(conn)
    try:
        new = []
        for threshold in sorted(reading.crossed, key=_order):
            cur = conn.execute(
                "INSERT OR IGNORE INTO budget_crossings (budget, period_start, threshold, "
                "crossed_at, data_through, spent, amount, currency) VALUES (?,?,?,?,?,?,?,?)",
                (
                    reading.budget,
                    reading.period_start,
                    threshold,
                    at,
                    reading.data_through,
                    reading.spent,
                    reading.amount,
                    reading.currency,
                ),
            )
            if cur.rowcount == 1:
                new.append(threshold)
            else:  # crossed again after a restatement: a post that failed may go now
                conn.execute(
                    "UPDATE budget_crossings SET uncrossed_at = NULL, uncrossed_spent = NULL, "
                    "noted_at = NULL WHERE budget = ? AND period_start = ? AND threshold = ? "
                    "AND uncrossed_at IS NOT NULL",
                    (reading.budget, reading.period_start, threshold),
                )
        for threshold in reading.below:
            conn.execute(
                "UPDATE budget_crossings SET uncrossed_at = ?, uncrossed_spent = ? "
                "WHERE budget = ? AND period_start = ? AND threshold = ? "
                "AND uncrossed_at IS NULL",
                (at, reading.spent, reading.budget, reading.period_start, threshold),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return new


def crossings(db: Database, budget: str | None = None, period_start: str | None = None):
    """The recorded crossings (of one budget and period when given), in ladder order."""
    clauses, params = [], []
    if budget is not None:
        clauses.append("budget = ?")
        params.append(budget)
    if period_start is not None:
        clauses.append("period_start = ?")
        params.append(period_start)
    rows = db.execute(
        "SELECT budget, period_start, threshold, crossed_at, data_through, spent, amount, "
        "currency, uncrossed_at, uncrossed_spent, noted_at FROM budget_crossings"
        + (" WHERE " + " AND ".join(clauses) if clauses else ""),
        params,
    ).fetchall()
    found = [Crossing(*row) for row in rows]
    return sorted(found, key=lambda c: (c.budget, c.period_start, _order(c.threshold)))


def unnoted(db: Database) -> list[Crossing]:
    """Crossings a restatement un-did that no daily digest has noted yet."""
    return [c for c in crossings(db) if c.uncrossed_at and not c.noted_at]


def noted(db: Database, found: list[Crossing], now: datetime) -> None:
    at = now.isoformat(timespec="seconds")
    with db.conn:
        for c in found:
            db.execute(
                "UPDATE budget_crossings SET noted_at = ? WHERE budget = ? AND "
                "period_start = ? AND threshold = ? AND noted_at IS NULL",
                (at, c.budget, c.period_start, c.threshold),
            )


def _order(threshold: str) -> tuple[int, float]:
    return (1, 0.0) if threshold == FORECAST else (0, float(threshold))
