"""The one read path: totals, groupings and daily series of any subject, from the rollups.

A subject is a ``Where``: dimension → the stored values it covers (several spellings of one
name are several values), all terms ANDed. Dimensions are the built-in ones (project, team,
owner, service, account, provider, region, pricing, category; ``gpu``: the GPU model,
``instance``: the instance type) and the configured tag dimensions (``[allocation]
dimensions``, by their names). One term (or none) is read from the cube, one index range
per value; anything else joins the few dimension combinations it matches to their days in
daily_keys. Only the tag reads (``tag_totals``, ``tag_grouped``: tag keys nobody
configured) read the fact table. ``categories`` filters ChargeCategory (``("Usage",)`` for
usage only, ``("Purchase",)`` for purchases). Dates are inclusive UTC billing days.

Measures: EffectiveCost, BilledCost, ListCost (per currency) and GPUHours, a quantity:
GPU-hours are summed over every currency and read under the currency key ``''``, and values
or days with no GPU-hours are left out. Grouped by ``gpu`` or ``instance``, only the charges
that have one count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

from sqlite_utils import Database

from finops_bot.days import day_iso, day_number
from finops_bot.store import tagsets
from finops_bot.store.rollups import cube_dimensions
from finops_bot.store.schema import (
    DIM_COLUMNS,
    GPU_COLUMNS,
    MEASURE_COLUMNS,
    PAIRS,
    QUANTITY_MEASURES,
)

PERIOD_REACH = timedelta(days=40)  # the longest a billing period runs, with room


@dataclass(frozen=True)
class Where:
    """A conjunction of dimension filters: ((dim, (value, …)), …); empty = everything.

    ``within``: an access scope, a union of conjunctions (any one of them admits a charge);
    None = no scope, ``()`` = nothing. A scoped subject is read from charge_keys and
    daily_keys, never the cube (whose rows are whole values of one dimension)."""

    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()
    within: tuple[Where, ...] | None = None

    @classmethod
    def of(cls, filters: Mapping[str, Iterable[str]] | None = None) -> Where:
        return cls(tuple((d, tuple(sorted(set(v)))) for d, v in (filters or {}).items()))

    def also(self, dim: str, values: Iterable[str]) -> Where:
        return Where((*self.terms, (dim, tuple(sorted(set(values))))), self.within)

    def inside(self, within: tuple[Where, ...] | None) -> Where:
        """The same subject, limited to an access scope (None: not limited)."""
        return Where(self.terms, within)

    @property
    def everything(self) -> bool:
        return not self.terms and self.within is None

    @property
    def plain(self) -> bool:
        """No access scope: the cube's rows may answer it."""
        return self.within is None

    def _terms_sql(self) -> tuple[list[str], list]:
        clauses, params = [], []
        for dim, values in self.terms:
            marks = ",".join("?" * len(values))
            if dim in DIM_COLUMNS:
                clauses.append(f"k.{DIM_COLUMNS[dim]} IN ({marks})")
            else:  # a configured tag dimension
                clauses.append(
                    f"k.id IN (SELECT key_id FROM key_dims WHERE dim = ? AND value IN ({marks}))"
                )
                params.append(_dim_name(dim))
            params.extend(values)
        return clauses, params

    def _within_sql(self) -> tuple[list[str], list]:
        if self.within is None:
            return [], []
        ors, params = [], []
        for grant in self.within:
            clauses, values = grant._terms_sql()
            ors.append("(" + (" AND ".join(clauses) or "1") + ")")
            params.extend(values)
        return ["(" + (" OR ".join(ors) or "0") + ")"], params

    def _keys_sql(self, start: date | None = None) -> tuple[str, list]:
        """The WHERE clause over charge_keys. With ``start``, combinations of billing periods
        that end before it are skipped: a charge's day is never more than a period after its
        BillingPeriodStart (corrections point backwards, to earlier days)."""
        clauses, params = self._terms_sql()
        scope, scope_params = self._within_sql()
        clauses, params = [*clauses, *scope], [*params, *scope_params]
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


_DIM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def _dim_name(dim: str) -> str:
    if not _DIM_NAME.match(dim):
        raise ValueError(f"not a dimension name: {dim!r}")
    return dim


def _money(measure: str, currency: str, total: str) -> tuple[str, str]:
    """(what to group as the currency, a HAVING clause): a quantity is one sum over every
    currency (key ''), without the values that have none."""
    if measure in QUANTITY_MEASURES:
        return "''", f" HAVING {total} != 0"
    return currency, ""


def _by_sql(by: str | None) -> tuple[str, str]:
    """(the charge_keys expression of ``by``, a filter): the GPU dimensions count only the
    combinations that have a value, a configured dimension only those that carry it."""
    if by is None:
        return "''", ""
    if by in GPU_COLUMNS:
        return f"k.{GPU_COLUMNS[by]}", f" AND k.{GPU_COLUMNS[by]} != ''"
    if by in DIM_COLUMNS:
        return f"k.{DIM_COLUMNS[by]}", ""
    path = f"""json_extract(k.dims, '$."{_dim_name(by)}"')"""
    return path, f" AND {path} IS NOT NULL"


def _cube_term(where: Where) -> tuple[str, tuple[str, ...]] | None:
    """The cube's (dim, keys) for a subject of at most one term, else None."""
    if not where.plain:
        return None
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
    if (
        where.plain
        and by is not None
        and len(where.terms) == 1
        and (where.terms[0][0], by) in PAIRS
    ):
        return where.terms[0]
    return None


def _self(where: Where, by: str | None) -> tuple[str, tuple[str, ...]] | None:
    """A subject broken down by its own dimension (a service's "what moved" by service):
    the cube's rows of its own values."""
    if where.plain and by is not None and len(where.terms) == 1 and where.terms[0][0] == by:
        return where.terms[0]
    return None


def _grouped(db, where, by, start, end, measure, categories) -> list[tuple[str, str, float]]:
    col, span = _measure(measure), (day_number(start), day_number(end))
    cats, cat_params = _categories_sql("charge_category", categories)
    currency, having = _money(measure, "currency", f"SUM({col})")
    own, pair, term = _self(where, by), _pair(where, by), _cube_term(where)
    if own is not None or (term is not None and (by is None or where.everything)):
        dim, keys = own or ((by, None) if by else term)
        key_sql = f" AND key IN ({','.join('?' * len(keys))})" if keys else ""
        group = "key" if by else "''"
        return db.execute(
            f"SELECT {group}, {currency}, SUM({col}) AS c FROM cube WHERE dim = ?{key_sql} "
            f"AND day BETWEEN ? AND ?{cats} GROUP BY 1, 2{having} ORDER BY c DESC",
            (dim, *(keys or ()), *span, *cat_params),
        ).fetchall()
    if pair is not None:
        dim, keys = pair
        return db.execute(
            f"SELECT by_key, {currency}, SUM({col}) AS c FROM cube_pairs WHERE dim = ? "
            f"AND key IN ({','.join('?' * len(keys))}) AND by_dim = ? AND day BETWEEN ? AND ?"
            f"{cats} GROUP BY 1, 2{having} ORDER BY c DESC",
            (dim, *keys, by, *span, *cat_params),
        ).fetchall()
    where_sql, params = where._keys_sql(start)
    cats, cat_params = _categories_sql("k.charge_category", categories)
    group, by_filter = _by_sql(by)
    currency, having = _money(measure, "k.currency", f"SUM(d.{col})")
    return db.execute(
        f"SELECT {group}, {currency}, SUM(d.{col}) AS c FROM charge_keys k "
        "JOIN daily_keys d ON d.key_id = k.id AND d.day BETWEEN ? AND ? "
        f"WHERE {where_sql}{by_filter}{cats} GROUP BY 1, 2{having} ORDER BY c DESC",
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
    currency, _ = _money(measure, "currency", "")
    pair, own = _pair(where, by), _self(where, by)
    if own is not None or where.everything:  # the cube has it
        dim, keys = own or (by, ())
        key_sql = f" AND key IN ({','.join('?' * len(keys))})" if keys else ""
        rows = db.execute(
            f"SELECT key, {currency}, {sums} FROM cube WHERE dim = ?{key_sql} "
            "AND day BETWEEN ? AND ? GROUP BY 1, 2",
            (*a, *b, dim, *keys, first, last),
        ).fetchall()
    elif pair is not None:
        dim, keys = pair
        rows = db.execute(
            f"SELECT by_key, {currency}, {sums} FROM cube_pairs WHERE dim = ? "
            f"AND key IN ({','.join('?' * len(keys))}) AND by_dim = ? AND day BETWEEN ? AND ? "
            "GROUP BY 1, 2",
            (*a, *b, dim, *keys, by, first, last),
        ).fetchall()
    else:
        where_sql, params = where._keys_sql(min(now[0], then[0]))
        group, by_filter = _by_sql(by)
        currency, _ = _money(measure, "k.currency", "")
        rows = db.execute(
            f"SELECT {group}, {currency}, {sums.replace('day', 'd.day')} "
            "FROM charge_keys k JOIN daily_keys d ON d.key_id = k.id AND d.day BETWEEN ? AND ? "
            f"WHERE {where_sql}{by_filter} GROUP BY 1, 2",
            (*a, *b, first, last, *params),
        ).fetchall()
    keep = (lambda x: bool(x)) if measure in QUANTITY_MEASURES else (lambda x: x is not None)
    out_now = sorted(((v, c, x) for v, c, x, _ in rows if keep(x)), key=lambda r: -r[2])
    out_then = sorted(((v, c, y) for v, c, _, y in rows if keep(y)), key=lambda r: -r[2])
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
        currency, having = _money(measure, "currency", f"SUM({col})")
        rows = db.execute(
            f"SELECT day, {currency}, SUM({col}) FROM cube WHERE dim = ? "
            f"AND key IN ({','.join('?' * len(keys))}) AND day BETWEEN ? AND ?{cats} "
            f"GROUP BY 1, 2{having} ORDER BY 1, 2",
            (dim, *keys, *span, *cat_params),
        ).fetchall()
    else:
        where_sql, params = where._keys_sql(start)
        cats, cat_params = _categories_sql("k.charge_category", categories)
        currency, having = _money(measure, "k.currency", f"SUM(d.{col})")
        rows = db.execute(
            f"SELECT d.day, {currency}, SUM(d.{col}) FROM charge_keys k "
            "JOIN daily_keys d ON d.key_id = k.id AND d.day BETWEEN ? AND ? "
            f"WHERE {where_sql}{cats} GROUP BY 1, 2{having} ORDER BY 1, 2",
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
    col = _measure(measure)
    currency, having = _money(measure, "currency", f"SUM({col})")
    return db.execute(
        f"SELECT key, {currency}, day, SUM({col}) FROM cube WHERE dim = ? "
        f"AND day BETWEEN ? AND ?{cats} GROUP BY key, 2, day{having}",
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


def names(db: Database, within: tuple[Where, ...] | None = None) -> list[tuple[str, str, str]]:
    """(dim, value, label) of every value that has charges (labels: account names), the
    GPU dimensions (gpu, instance) and the configured tag dimensions included; with
    ``within``, only the values that have charges inside that access scope."""
    rows = db.execute("SELECT dim, key, label FROM names").fetchall()
    if within is None:
        return rows
    where_sql, params = Where((), within)._keys_sql()
    seen: set[tuple[str, str]] = set()
    for dim, column in DIM_COLUMNS.items():
        found = db.execute(
            f"SELECT DISTINCT k.{column} FROM charge_keys k WHERE {where_sql}", params
        )
        seen.update((dim, value) for (value,) in found)
    found = db.execute(
        f"SELECT DISTINCT d.dim, d.value FROM key_dims d JOIN charge_keys k ON k.id = d.key_id "
        f"WHERE {where_sql}",
        params,
    )
    seen.update(found.fetchall())
    return [(dim, key, label) for dim, key, label in rows if (dim, key) in seen]


def outside(db: Database, where: Where, within: tuple[Where, ...]) -> bool:
    """Whether any of the subject's charges lies outside the access scope ``within``: read
    from the dimension combinations alone (no cost is summed)."""
    subject_sql, params = Where(where.terms)._keys_sql()
    scope_sql, scope_params = Where((), within)._keys_sql()
    row = db.execute(
        f"SELECT 1 FROM charge_keys k WHERE {subject_sql} AND NOT {scope_sql} "
        "AND EXISTS (SELECT 1 FROM daily_keys d WHERE d.key_id = k.id) LIMIT 1",
        (*params, *scope_params),
    ).fetchone()
    return row is not None


def dimensions(db: Database) -> list[str]:
    """The dimensions the cache holds charges for: built-in and configured tag ones."""
    return [d for d in cube_dimensions(db.conn) if d != "*"]


def tag_dimensions(db: Database) -> list[str]:
    """The configured tag dimensions the cache holds charges for (``[allocation]
    dimensions`` at the time of their imports)."""
    return [d for d in dimensions(db) if d not in DIM_COLUMNS]


def gpu_models(db: Database) -> list[str]:
    """The GPU models charges were classified as ("A100", "H100", …)."""
    rows = db.execute("SELECT key FROM names WHERE dim = 'gpu' AND key != '' ORDER BY key")
    return [row[0] for row in rows.fetchall()]


def tag_keys(db: Database) -> list[str]:
    """The tag keys kept with the charges beyond the allocation columns and configured
    dimensions (lower-cased, without a provider prefix): what ``tag_totals`` reads."""
    return tagsets.tag_keys(db.conn)


def _tag_plan(db, measure, start, end, categories, where, groups) -> tagsets.Scan:
    filtered = bool(categories) or (where is not None and not where.everything)
    where_sql, params = (where or Where())._keys_sql(start if filtered else None)
    cats, cat_params = _categories_sql("k.charge_category", categories)
    quantity = measure in QUANTITY_MEASURES
    rows = db.execute(
        f"SELECT k.id, k.currency FROM charge_keys k WHERE {where_sql}{cats}",
        (*params, *cat_params),
    ).fetchall()
    every = db.execute("SELECT id, currency FROM charge_keys").fetchall() if filtered else rows
    currency_of = {key_id: "" if quantity else currency for key_id, currency in every}
    keys = {key_id for key_id, _ in rows} if filtered else None
    span = (day_number(start), day_number(end))
    return tagsets.Scan(_measure(measure), *span, currency_of, keys, groups, quantity)


def tag_totals(
    db: Database,
    key: str,
    value: str | Iterable[str],
    start: date,
    end: date,
    measure: str,
    *,
    categories: Sequence[str] | None = None,
    where: Where | None = None,
) -> dict[str, float]:
    """Currency → total of the charges whose tag ``key`` is ``value`` (or any of several
    values), largest first: for tag keys that are not configured dimensions, read from the
    facts (see store.tagsets). Keys and values match trimmed and case-insensitively, the
    key with or without a provider prefix; ``where`` narrows it to a subject."""
    values = (value,) if isinstance(value, str) else tuple(value)
    plan = partial(_tag_plan, db, measure, start, end, categories, where)
    return tagsets.value_totals(db.conn, key, values, plan)


def tag_grouped(
    db: Database,
    key: str,
    start: date,
    end: date,
    measure: str,
    *,
    categories: Sequence[str] | None = None,
    where: Where | None = None,
) -> list[tuple[str, str, float]]:
    """(value of tag ``key``, currency, total), largest first, from the facts: each value as
    stored (trimmed), and '' for the charges without the key (the subject's total less the
    tagged ones)."""
    plan = partial(_tag_plan, db, measure, start, end, categories, where)
    everything = totals(db, where or Where(), start, end, measure, categories)
    return tagsets.value_grouped(db.conn, key, plan, everything)


def loaded(db: Database) -> tuple[str | None, int]:
    """When the cache was last loaded, and how many sources hold charges."""
    row = db.execute(
        "SELECT MAX(loaded_at), COUNT(*) FROM sources WHERE last_day IS NOT NULL"
    ).fetchone()
    return row[0], row[1]


def cache_version(db: Database) -> tuple:
    """Changes whenever a load lands: what a name index is cached against."""
    return db.execute("SELECT COUNT(*), MAX(loaded_at), MAX(rowid) FROM sources").fetchone()


def project_teams(db: Database) -> dict[str, str]:
    """Project → the team most of its dimension combinations carry: what a GPU node (whose
    labels name a project, not a team) belongs to for a team's access scope."""
    rows = db.execute(
        "SELECT project, team, COUNT(*) AS n FROM charge_keys WHERE project != '' "
        "AND team != '' GROUP BY project, team ORDER BY project, n DESC, team"
    ).fetchall()
    teams: dict[str, str] = {}
    for project, team, _ in rows:
        teams.setdefault(project, team)
    return teams


def demo_fleet_end(db: Database) -> str | None:
    """When only the demo's fleet reports (its batch ids start with ``demo-``), the time its
    heartbeats end (ISO): the demo's pinned now. None once a real agent has reported."""
    row = db.execute(
        "SELECT MAX(received_at), SUM(batch_id NOT LIKE 'demo-%') FROM heartbeat_batches"
    ).fetchone()
    if row is None or row[0] is None or row[1]:
        return None
    return row[0]
