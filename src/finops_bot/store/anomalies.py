"""Stored anomalies and their append-only status history.

An anomaly's id is its measure, subject, currency and start, so detecting again (a new
day, a restated day, a second process) updates the same row; one that a re-evaluation no
longer finds is ``withdrawn``. A status a person set (acknowledged, expected, not_anomaly)
is kept through re-evaluations. Every change appends a line (who, when) to
anomaly_status; that table refuses updates and deletes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlite_utils import Database

from finops_bot.store.db import WriteWait, begin_write

STATUSES = ("open", "acknowledged", "expected", "not_anomaly", "resolved", "withdrawn")
PERSON_STATUSES = ("acknowledged", "expected", "not_anomaly", "open")  # what people set
KEPT = ("acknowledged", "expected", "not_anomaly")  # a re-evaluation never overrides these
DETECTOR = "detector"
_NUMBERS = ("expected", "actual", "impact", "expected_to_date", "actual_to_date")
_FIELDS = ("kind", "detected_on", "last_day", "part_of", "root_cause", "gpu_activity")


@dataclass
class StoredAnomaly:
    id: str
    measure: str
    dim: str
    key: str
    currency: str
    kind: str
    start: str
    detected_on: str
    last_day: str
    expected: float
    actual: float
    impact: float
    status: str
    part_of: str | None = None
    expected_to_date: float = 0.0  # through last_day (an open episode keeps growing)
    actual_to_date: float = 0.0
    root_cause: list[dict] = field(default_factory=list)
    gpu_activity: dict | None = None
    updated_at: str = ""
    history: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Saved:
    new: tuple[str, ...]
    updated: int
    withdrawn: tuple[str, ...]


def anomaly_id(measure: str, dim: str, key: str, currency: str, start: date | str) -> str:
    raw = "|".join((measure, dim, key, currency, str(start)))
    return "an_" + hashlib.sha256(raw.encode()).hexdigest()[:12]


def save(
    db: Database,
    found: Sequence[StoredAnomaly],
    *,
    measure: str,
    dims: Iterable[str],
    span: tuple[date, date],
    now: datetime,
    wait: WriteWait | None = None,
) -> Saved:
    """Store one detection run atomically: new anomalies inserted, known ones updated, and
    those of ``dims`` starting in ``span`` that the run no longer finds withdrawn."""
    at = now.isoformat(timespec="seconds")
    conn = db.conn
    begin_write(conn, wait)
    try:
        known = {r.id: r for r in _rows(db, "1", [])}
        new, updated = [], 0
        for a in found:
            old = known.get(a.id)
            if old is None:
                _insert(conn, a, at)
                new.append(a.id)
                continue
            status = old.status if old.status in KEPT else a.status
            changed = [f for f in (*_NUMBERS, *_FIELDS) if _value(old, f) != _value(a, f)]
            if changed or status != old.status:
                _update(conn, a, status, at)
                updated += 1
            if status != old.status:
                _history(conn, a.id, at, status, DETECTOR)
        dims = set(dims)
        first, last = span[0].isoformat(), span[1].isoformat()
        seen = {a.id for a in found}
        gone = [
            r.id
            for r in known.values()
            if r.dim in dims and (r.measure == measure or r.dim == "purchase")
            and first <= r.start <= last and r.id not in seen and r.status != "withdrawn"
        ]  # fmt: skip
        for anomaly_id_ in gone:
            conn.execute(
                "UPDATE anomalies SET status = 'withdrawn', updated_at = ? WHERE id = ?",
                (at, anomaly_id_),
            )
            _history(conn, anomaly_id_, at, "withdrawn", DETECTOR, "no longer found in the data")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return Saved(tuple(new), updated, tuple(gone))


def set_status(
    db: Database,
    anomaly: str,
    status: str,
    by: str,
    now: datetime,
    note: str | None = None,
    wait: WriteWait | None = None,
) -> StoredAnomaly | None:
    """A person's decision (acknowledged, expected, not_anomaly, or open again): recorded
    with who and when; the same status twice is recorded once. None: no such anomaly."""
    if status not in PERSON_STATUSES:
        raise ValueError(f"status {status!r}: give one of {', '.join(PERSON_STATUSES)}")
    at = now.isoformat(timespec="seconds")
    conn = db.conn
    begin_write(conn, wait)
    try:
        row = conn.execute("SELECT status FROM anomalies WHERE id = ?", (anomaly,)).fetchone()
        if row is not None and row[0] != status:
            conn.execute(
                "UPDATE anomalies SET status = ?, updated_at = ? WHERE id = ?",
                (status, at, anomaly),
            )
            _history(conn, anomaly, at, status, by, note)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if row is None:
        return None
    return get(db, anomaly)


def get(db: Database, anomaly: str) -> StoredAnomaly | None:
    rows = _rows(db, "id = ?", [anomaly])
    return _with_history(db, rows)[0] if rows else None


def stored(
    db: Database,
    *,
    statuses: Sequence[str] | None = None,
    measure: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[StoredAnomaly]:
    """Anomalies (with their history), largest impact first; ``since``/``until`` filter
    the days they cover (an episode overlapping the range is in it)."""
    clauses, params = [], []
    if statuses:
        clauses.append(f"status IN ({','.join('?' * len(statuses))})")
        params += list(statuses)
    if measure:
        clauses.append("measure = ?")
        params.append(measure)
    if since:
        clauses.append("last_day >= ?")
        params.append(since.isoformat())
    if until:
        clauses.append("start <= ?")
        params.append(until.isoformat())
    return _with_history(db, _rows(db, " AND ".join(clauses) or "1", params))


def labels(db: Database) -> dict[str, str]:
    """id → the status a person gave it (feedback the backtest scores against)."""
    rows = db.execute(
        "SELECT id, status FROM anomalies WHERE status IN ('acknowledged', 'expected', "
        "'not_anomaly')"
    ).fetchall()
    return dict(rows)


def _rows(db: Database, where: str, params: list) -> list[StoredAnomaly]:
    rows = db.execute(
        "SELECT id, measure, dim, key, currency, kind, start, detected_on, last_day, expected, "
        "actual, impact, status, part_of, expected_to_date, actual_to_date, root_cause, "
        f"gpu_activity, updated_at FROM anomalies WHERE {where} ORDER BY impact DESC, id",
        params,
    ).fetchall()
    return [
        StoredAnomaly(*r[:16], json.loads(r[16] or "[]"), json.loads(r[17] or "null"), r[18])
        for r in rows
    ]


def _with_history(db: Database, rows: list[StoredAnomaly]) -> list[StoredAnomaly]:
    if not rows:
        return rows
    by_id = {r.id: r for r in rows}
    marks = ",".join("?" * len(by_id))
    for anomaly, at, status, by, note in db.execute(
        f"SELECT anomaly_id, at, status, by, note FROM anomaly_status WHERE anomaly_id IN "
        f"({marks}) ORDER BY rowid",
        list(by_id),
    ):
        entry = {"at": at, "status": status, "by": by}
        if note:
            entry["note"] = note
        by_id[anomaly].history.append(entry)
    return rows


def _value(a: StoredAnomaly, name: str):
    value = getattr(a, name)
    return round(value, 6) if isinstance(value, float) else value


def _insert(conn, a: StoredAnomaly, at: str) -> None:
    conn.execute(
        "INSERT INTO anomalies (id, measure, dim, key, currency, kind, start, detected_on, "
        "last_day, expected, actual, impact, status, part_of, expected_to_date, "
        "actual_to_date, root_cause, gpu_activity, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (a.id, a.measure, a.dim, a.key, a.currency, a.kind, a.start, a.detected_on,
         a.last_day, a.expected, a.actual, a.impact, a.status, a.part_of, a.expected_to_date,
         a.actual_to_date, json.dumps(a.root_cause), json.dumps(a.gpu_activity), at),
    )  # fmt: skip
    _history(conn, a.id, at, a.status, DETECTOR)


def _update(conn, a: StoredAnomaly, status: str, at: str) -> None:
    conn.execute(
        "UPDATE anomalies SET kind = ?, detected_on = MIN(detected_on, ?), last_day = ?, "
        "expected = ?, actual = ?, impact = ?, status = ?, part_of = ?, expected_to_date = ?, "
        "actual_to_date = ?, root_cause = ?, gpu_activity = ?, updated_at = ? WHERE id = ?",
        (a.kind, a.detected_on, a.last_day, a.expected, a.actual, a.impact, status,
         a.part_of, a.expected_to_date, a.actual_to_date, json.dumps(a.root_cause),
         json.dumps(a.gpu_activity), at, a.id),
    )  # fmt: skip


def _history(conn, anomaly: str, at: str, status: str, by: str, note: str | None = None):
    conn.execute(
        "INSERT INTO anomaly_status (anomaly_id, at, status, by, note) VALUES (?, ?, ?, ?, ?)",
        (anomaly, at, status, by, note),
    )
