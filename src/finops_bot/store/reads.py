"""The one read path: totals, groupings and daily series of any subject, from the rollups.

A subject is a ``Where``: dimension → the stored values it covers (several spellings of one
name are several values), all terms ANDed. One term (or none) is read from the cube, one
index range per value; anything else joins the few dimension combinations it matches to
their days in daily_keys. Nothing reads the fact table. ``categories`` filters
ChargeCategory (``("Usage",)`` for usage only, ``("Purchase",)`` for purchases).
Dates are inclusive UTC billing days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlite_utils import Database

from finops_bot.days import day_iso, day_number
from finops_bot.store.schema import MEASURE_COLUMNS, PAIRS, SUBJECT_COLUMNS

PERIOD_REACH = timedelta(days=40)  # the longest a billing period runs, with room


@dataclass(frozen=True)
class Where:
    """A conjunction of dimension filters: ((dim, (value, …)), …); empty = everything."""

    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, filters: Mapping[str, Iterable[str]] | None = None) -> Where:
        return cls(tuple((d, tuple(sorted(set(v)))) for d, v in (filters or {}).items()))

    def also(self, dim: str, values: Iterable[str]) -> Where:
        return Where((*self.terms, (dim, tuple(sorted(set(values))))))

    @property
    def everything(self) -> bool:
        return not self.terms

    def _keys_sql(self, start: date | None = None) -> tuple[str, list]:
        """The WHERE clause over charge_keys. With ``start``, combinations of billing periods
        that end before it are skipped: a charge's day is never more than a period after its
        BillingPeriodStart (corrections point backwards, to earlier days)."""
        clauses, params = [], []
        for dim, values in self.terms:
            clauses.append(f"k.{SUBJECT_COLUMNS[dim]} IN ({','.join('?' * len(values))})")
            params.extend(values)
        if start is not None:
            clauses.append("k.billing_period_start >= ?")
            params.append((start - PERIOD_REACH).isoformat())
        return " AND ".join(clauses) or "1", params


def _categories_sql(column: str, categories: Sequence[str] | None) -> tuple[str, list]:
    if not categories:
        return "", []
    return f" AND {column} IN ({','.join('?' * len(categories))})", list(categories)


def _measure(measure: str) -> str:
    return MEASURE_COLUMNS[measure]


def _cube_term(where: Where) -> tuple[str, tuple[str, ...]] | None:
    """The cube's (dim, keys) for a subject of at most one term, else None."""
    if where.everything:
        return "*", ("*",)
    if len(where.terms) == 1:
        return where.terms[0]
    return None


def totals(
    db: Database,
    where: Where,
    start: date,
    end: date,
    measure: str,
    categories: Sequence[str] | None = None,
) -> dict[str, float]:
    """Currency → total, largest first."""
    rows = _grouped(db, where, None, start, end, measure, categories)
    return {currency: total for _, currency, total in rows}


def grouped(
    db: Database,
    where: Where,
    by: str,
    start: date,
    end: date,
    measure: str,
    categories: Sequence[str] | None = None,
) -> list[tuple[str, str, float]]:
    """(value of ``by``, currency, total) for the subject, largest first."""
    return _grouped(db, where, by, start, end, measure, categories)


def _pair(where: Where, by: str | None) -> tuple[str, tuple[str, ...]] | None:
    """The cube_pairs (dim, keys) when one term's subject by ``by`` is kept as pairs."""
    if by is not None and len(where.terms) == 1 and (where.terms[0][0], by) in PAIRS:
        return where.terms[0]
    return None


def _self(where: Where, by: str | None) -> tuple[str, tuple[str, ...]] | None:
    """A subject broken down by its own dimension (a service's "what moved" by service):
    the cube's rows of its own values."""
    if by is not None and len(where.terms) == 1 and where.terms[0][0] == by:
        return where.terms[0]
    return None


def _grouped(db, where, by, start, end, measure, categories) -> list[tuple[str, str, float]]:
    col, span = _measure(measure), (day_number(start), day_number(end))
    if (own := _self(where, by)) is not None:
        dim, keys = own
        cats, cat_params = _categories_sql("charge_category", categories)
        return db.execute(
            f"SELECT key, currency, SUM({col}) AS c FROM cube WHERE dim = ? "
            f"AND key IN ({','.join('?' * len(keys))}) AND day BETWEEN ? AND ?{cats} "
            "GROUP BY 1, 2 ORDER BY c DESC",
            (dim, *keys, *span, *cat_params),
        ).fetchall()
    pair = _pair(where, by)
    if pair is not None:
        dim, keys = pair
        cats, cat_params = _categories_sql("charge_category", categories)
        return db.execute(
            f"SELECT by_key, currency, SUM({col}) AS c FROM cube_pairs WHERE dim = ? "
            f"AND key IN ({','.join('?' * len(keys))}) AND by_dim = ? AND day BETWEEN ? AND ?"
            f"{cats} GROUP BY 1, 2 ORDER BY c DESC",
            (dim, *keys, by, *span, *cat_params),
        ).fetchall()
    term = _cube_term(where)
    if term is not None and (by is None or where.everything):
        dim, keys = (by, None) if by else term
        cats, cat_params = _categories_sql("charge_category", categories)
        key_sql = f" AND key IN ({','.join('?' * len(keys))})" if keys else ""
        group = "key" if by else "''"
        return db.execute(
            f"SELECT {group}, currency, SUM({col}) AS c FROM cube WHERE dim = ?{key_sql} "
            f"AND day BETWEEN ? AND ?{cats} GROUP BY 1, 2 ORDER BY c DESC",
            (dim, *(keys or ()), *span, *cat_params),
        ).fetchall()
    where_sql, params = where._keys_sql(start)
    cats, cat_params = _categories_sql("k.charge_category", categories)
    group = f"k.{SUBJECT_COLUMNS[by]}" if by else "''"
    return db.execute(
        f"SELECT {group}, k.currency, SUM(d.{col}) AS c FROM charge_keys k "
        "JOIN daily_keys d ON d.key_id = k.id AND d.day BETWEEN ? AND ? "
        f"WHERE {where_sql}{cats} GROUP BY 1, 2 ORDER BY c DESC",
        (*span, *params, *cat_params),
    ).fetchall()


def grouped_pair(
    db: Database,
    where: Where,
    by: str,
    now: tuple[date, date],
    then: tuple[date, date],
    measure: str,
) -> tuple[list[tuple[str, str, float]], list[tuple[str, str, float]]]:
    """``grouped`` for two periods in one read (a comparison: now, and the period before)."""
    col = _measure(measure)
    a, b = (day_number(now[0]), day_number(now[1])), (day_number(then[0]), day_number(then[1]))
    first, last = min(a[0], b[0]), max(a[1], b[1])
    sums = (
        f"SUM(CASE WHEN day BETWEEN ? AND ? THEN {col} END), "
        f"SUM(CASE WHEN day BETWEEN ? AND ? THEN {col} END)"
    )
    pair = _pair(where, by)
    own = _self(where, by)
    if own is not None:
        dim, keys = own
        rows = db.execute(
            f"SELECT key, currency, {sums} FROM cube WHERE dim = ? "
            f"AND key IN ({','.join('?' * len(keys))}) AND day BETWEEN ? AND ? GROUP BY 1, 2",
            (*a, *b, dim, *keys, first, last),
        ).fetchall()
    elif where.everything:  # everything by a dimension: the cube has it
        rows = db.execute(
            f"SELECT key, currency, {sums} FROM cube WHERE dim = ? AND day BETWEEN ? AND ? "
            "GROUP BY 1, 2",
            (*a, *b, by, first, last),
        ).fetchall()
    elif pair is not None:
        dim, keys = pair
        rows = db.execute(
            f"SELECT by_key, currency, {sums} FROM cube_pairs WHERE dim = ? "
            f"AND key IN ({','.join('?' * len(keys))}) AND by_dim = ? AND day BETWEEN ? AND ? "
            "GROUP BY 1, 2",
            (*a, *b, dim, *keys, by, first, last),
        ).fetchall()
    else:
        where_sql, params = where._keys_sql(min(now[0], then[0]))
        rows = db.execute(
            f"SELECT k.{SUBJECT_COLUMNS[by]}, k.currency, {sums.replace('day', 'd.day')} "
            "FROM charge_keys k JOIN daily_keys d ON d.key_id = k.id AND d.day BETWEEN ? AND ? "
            f"WHERE {where_sql} GROUP BY 1, 2",
            (*a, *b, first, last, *params),
        ).fetchall()
    out_now = sorted(((v, c, x) for v, c, x, _ in rows if x is not None), key=lambda r: -r[2])
    out_then = sorted(((v, c, y) for v, c, _, y in rows if y is not None), key=lambda r: -r[2])
    return out_now, out_then


def series(
    db: Database,
    where: Where,
    start: date,
    end: date,
    measure: str,
    categories: Sequence[str] | None = None,
) -> list[tuple[str, str, float]]:
    """(ISO day, currency, total) for each day of the subject that has charges, in order."""
    col, span = _measure(measure), (day_number(start), day_number(end))
    term = _cube_term(where)
    if term is not None:
        dim, keys = term
        cats, cat_params = _categories_sql("charge_category", categories)
        rows = db.execute(
            f"SELECT day, currency, SUM({col}) FROM cube WHERE dim = ? "
            f"AND key IN ({','.join('?' * len(keys))}) AND day BETWEEN ? AND ?{cats} "
            "GROUP BY day, currency ORDER BY day, currency",
            (dim, *keys, *span, *cat_params),
        ).fetchall()
    else:
        where_sql, params = where._keys_sql(start)
        cats, cat_params = _categories_sql("k.charge_category", categories)
        rows = db.execute(
            f"SELECT d.day, k.currency, SUM(d.{col}) FROM charge_keys k "
            "JOIN daily_keys d ON d.key_id = k.id AND d.day BETWEEN ? AND ? "
            f"WHERE {where_sql}{cats} GROUP BY 1, 2 ORDER BY 1, 2",
            (*span, *params, *cat_params),
        ).fetchall()
    return [(day_iso(day), currency, total) for day, currency, total in rows]


def all_series(
    db: Database,
    dim: str,
    start: date,
    end: date,
    measure: str,
    categories: Sequence[str] | None = None,
) -> list[tuple[str, str, int, float]]:
    """(value, currency, day number, total) for every value of ``dim``: the daily series of
    every subject of one dimension in one index scan (what a detector reads)."""
    cats, cat_params = _categories_sql("charge_category", categories)
    return db.execute(
        f"SELECT key, currency, day, SUM({_measure(measure)}) FROM cube WHERE dim = ? "
        f"AND day BETWEEN ? AND ?{cats} GROUP BY key, currency, day",
        (dim, day_number(start), day_number(end), *cat_params),
    ).fetchall()


def providers_of(db: Database, where: Where, start: date, end: date) -> set[str]:
    """The providers a subject has charges with in the billing periods around [start, end]:
    read from the dimension combinations alone (each carries its billing period)."""
    where_sql, params = where._keys_sql()
    first = start.replace(day=1) - timedelta(days=1)
    rows = db.execute(
        f"SELECT DISTINCT k.provider FROM charge_keys k WHERE {where_sql} "
        "AND k.billing_period_start BETWEEN ? AND ?",
        (*params, first.replace(day=1).isoformat(), end.isoformat()),
    ).fetchall()
    return {row[0] for row in rows}


@dataclass(frozen=True)
class Freshness:
    provider: str  # as the data spells it
    source: str
    data_through: str  # the latest charge day, ISO
    loaded_at: str | None


def freshness(db: Database) -> list[Freshness]:
    """Per provider and source: the latest charge day and when it was loaded."""
    rows = db.execute(
        "SELECT c.key, l.source, MAX(c.day), MAX(l.loaded_at) FROM cube c "
        "JOIN loads l ON l.id = c.load_id WHERE c.dim = 'provider' GROUP BY c.key, l.source "
        "ORDER BY c.key, l.source"
    ).fetchall()
    return [Freshness(p, s, day_iso(d), at) for p, s, d, at in rows]


def data_span(db: Database) -> tuple[str | None, str | None]:
    """The first and last charge day in the cache (ISO), or (None, None)."""
    first, last = db.execute(
        "SELECT MIN(day), MAX(day) FROM cube WHERE dim = '*' AND key = '*'"
    ).fetchone()
    return (day_iso(first) if first is not None else None, day_iso(last) if last else None)


def names(db: Database) -> list[tuple[str, str, str]]:
    """(dim, value, label) of every value that has charges (labels: account names)."""
    return db.execute("SELECT dim, key, label FROM names").fetchall()


def loaded(db: Database) -> tuple[str | None, int]:
    """When the cache was last loaded, and how many sources hold charges."""
    row = db.execute(
        "SELECT MAX(loaded_at), COUNT(*) FROM sources WHERE last_day IS NOT NULL"
    ).fetchone()
    return row[0], row[1]


def cache_version(db: Database) -> tuple:
    """Changes whenever a load lands: what a name index is cached against."""
    return db.execute("SELECT COUNT(*), MAX(loaded_at), MAX(rowid) FROM sources").fetchone()
