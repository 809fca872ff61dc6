"""Rollups written at the end of each load, so no question reads the fact table.

- daily_keys: per load, day and dimension combination, the three measures. Breakdowns of a
  subject by any other dimension read the few combinations the subject has.
- cube: per load, day, currency and charge category, the totals of every value of each
  dimension (and '*' for everything). Totals, rankings, daily series and comparisons read
  days x values rows, whatever the number of charges; a ChargeCategory filter (usage only,
  purchases only) is one more column of the same index. The GPU dimensions (gpu, instance)
  hold only the rows that have a value; each configured tag dimension holds the rows of
  the combinations that carry it ('' = untagged), so charges imported before it was
  configured are not in it.
Every rollup carries GPU-hours next to the three costs. Both are rebuilt from the facts
when part of a load is replaced or merged.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

import numpy as np
import pandas as pd

from finops_bot.store import details
from finops_bot.store.schema import DIM_COLUMNS, GPU_COLUMNS, PAIRS, SUBJECT_COLUMNS

DIMENSIONS: dict[str, str | None] = {"*": None, **DIM_COLUMNS}
MEASURES = ["billed", "effective", "list", "gpu"]  # a summary may lack gpu: no GPU-hours
_MEASURE_SQL = "billed_cost, effective_cost, list_cost, gpu_hours"
_DAILY_SQL = f"{_MEASURE_SQL}, consumed_quantity, pricing_quantity"  # daily_keys': quantities too
_KEY_COLUMNS = ["currency", "charge_category", *sorted(set(DIM_COLUMNS.values()))]
_SPARSE = set(GPU_COLUMNS.values())  # no cube rows for '' (not a GPU row, no instance)


def write_daily_keys(conn: sqlite3.Connection, summary: pd.DataFrame, load_id: int) -> None:
    """``summary``: one row per (day, key_id) with billed, effective, list (and gpu, cq,
    pq: the quantities)."""
    summary = summary.sort_values(["key_id", "day"], kind="stable")
    conn.executemany(
        f"INSERT INTO daily_keys (key_id, day, load_id, {_DAILY_SQL}) VALUES (?,?,?,?,?,?,?,?,?)",
        zip(
            summary["key_id"].tolist(),
            summary["day"].tolist(),
            [load_id] * len(summary),
            summary["billed"].tolist(),
            summary["effective"].tolist(),
            summary["list"].tolist(),
            _gpu(summary),
            *(_column(summary, q) for q in ("cq", "pq")),
            strict=True,
        ),
    )


def _measures(frame: pd.DataFrame) -> list[str]:
    return [m for m in MEASURES if m in frame]


def _column(frame: pd.DataFrame, name: str) -> list[float]:
    return frame[name].tolist() if name in frame else [0.0] * len(frame)


def _gpu(frame: pd.DataFrame) -> list[float]:
    """GPU-hours per row: 0 throughout when the frame has none (the common case, kept out
    of every group-by)."""
    return frame["gpu"].tolist() if "gpu" in frame else [0.0] * len(frame)


class KeyCodes:
    """Each dimension column of charge_keys as small integer codes by key id: the summary's
    rows take their codes with one numpy take per column, and group on integers."""

    def __init__(self, conn: sqlite3.Connection):
        rows = conn.execute(
            f"SELECT id, {', '.join(_KEY_COLUMNS)}, dims FROM charge_keys"
        ).fetchall()
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        self.size = int(ids.max()) + 1 if len(ids) else 1
        self.codes: dict[str, np.ndarray] = {}
        self.values: dict[str, np.ndarray] = {}
        for i, column in enumerate(_KEY_COLUMNS, 1):
            self._add(column, ids, [r[i] for r in rows])
        # each configured dimension as a column of its own ("dims:environment"); -1 for
        # combinations that do not carry it
        parsed = {text: json.loads(text) for text in {r[-1] for r in rows} if text}
        self.tag_dims = sorted({d for values in parsed.values() for d in values})
        for dim in self.tag_dims:
            values = [parsed[r[-1]].get(dim) if r[-1] else None for r in rows]
            self._add(f"dims:{dim}", ids, values)

    def _add(self, column: str, ids: np.ndarray, values: list) -> None:
        codes, uniques = pd.factorize(pd.Series(values, dtype=object))  # None → -1
        lookup = np.full(self.size, -1, dtype=np.int32)
        lookup[ids] = codes
        self.codes[column] = lookup
        self.values[column] = np.asarray(uniques, dtype=object)

    def of(self, column: str, key_ids: np.ndarray) -> np.ndarray:
        return self.codes[column][key_ids]

    def text(self, column: str, codes: np.ndarray) -> list[str]:
        return self.values[column][codes].tolist()


def describe(conn: sqlite3.Connection, summary: pd.DataFrame) -> tuple[list[str], dict]:
    """The providers a summary holds, and its totals per currency and measure."""
    if summary.empty:
        return [], {}
    keys = KeyCodes(conn)
    key_ids = summary["key_id"].to_numpy(np.int64)
    providers = sorted(
        {p for p in keys.text("provider", np.unique(keys.of("provider", key_ids))) if p}
    )
    frame = summary[_measures(summary)].assign(currency=keys.of("currency", key_ids))
    totals = {}
    for code, part in frame.groupby("currency"):
        totals[keys.values["currency"][code]] = {
            "BilledCost": float(part["billed"].sum()),
            "EffectiveCost": float(part["effective"].sum()),
            "ListCost": float(part["list"].sum()),
        }
    return providers, totals


def write_cube(conn: sqlite3.Connection, load_id: int, summary: pd.DataFrame | None = None) -> None:
    """The load's cube rows (replacing any it had), from its day x key ``summary`` (read back
    from daily_keys when not given). Grouped in pandas on integer codes, one pass per
    dimension: several times faster than the same GROUP BY in SQLite, and memory stays near
    the summary's own size."""
    conn.execute("DELETE FROM cube WHERE load_id = ?", (load_id,))
    conn.execute("DELETE FROM cube_pairs WHERE load_id = ?", (load_id,))
    if summary is None:
        summary = pd.DataFrame(
            conn.execute(
                f"SELECT day, key_id, {_MEASURE_SQL} FROM daily_keys WHERE load_id = ?",
                (load_id,),
            ).fetchall(),
            columns=["day", "key_id", *MEASURES],
        )
    if summary.empty:
        return
    keys = KeyCodes(conn)
    conn.executemany(
        "INSERT INTO cube (dim, key, day, currency, charge_category, load_id, "
        f"{_MEASURE_SQL}) VALUES (?,?,?,?,?,?,?,?,?,?)",
        _cube_rows(keys, summary, load_id),
    )
    conn.executemany(
        "INSERT INTO cube_pairs (dim, key, by_dim, by_key, day, currency, charge_category, "
        f"load_id, {_MEASURE_SQL}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        _pair_rows(keys, summary, load_id),
    )


def _base(keys: KeyCodes, summary: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    key_ids = summary["key_id"].to_numpy(np.int64)
    return key_ids, summary[["day", *_measures(summary)]].assign(
        currency=keys.of("currency", key_ids), charge_category=keys.of("charge_category", key_ids)
    )


def _pair_rows(keys: KeyCodes, summary: pd.DataFrame, load_id: int):
    key_ids, base = _base(keys, summary)
    dims = sorted({d for pair in PAIRS for d in pair})
    coded = base.assign(**{d: keys.of(SUBJECT_COLUMNS[d], key_ids) for d in dims})
    group = ["day", "currency", "charge_category"]
    # the pairs of the dimensions with few values, from one reduced frame: project, team
    # and owner multiply combinations, so grouping them away first makes each pair cheap
    few = [d for d in dims if d not in ("project", "team", "owner")]
    measures = _measures(base)
    reduced = coded.groupby([*group, *few], sort=False, as_index=False)[measures].sum()
    for dim, by in PAIRS:
        source = reduced if dim in few and by in few else coded
        part = source.groupby([*group, dim, by], sort=False, as_index=False)[measures].sum()
        x, y = SUBJECT_COLUMNS[dim], SUBJECT_COLUMNS[by]
        head = ([dim] * len(part), keys.text(x, part[dim].to_numpy()))
        head += ([by] * len(part), keys.text(y, part[by].to_numpy()))
        yield from _rows(keys, part, head, load_id)


def _cube_rows(keys: KeyCodes, summary: pd.DataFrame, load_id: int):
    key_ids, base = _base(keys, summary)
    columns = {**DIMENSIONS, **{d: f"dims:{d}" for d in keys.tag_dims}}
    for dim, column in columns.items():
        frame = base.assign(value=keys.of(column, key_ids)) if column else base.assign(value=0)
        if column in _SPARSE:
            empty = np.flatnonzero(keys.values[column] == "")
            frame = frame[~np.isin(frame["value"].to_numpy(), empty)]
        elif column and column.startswith("dims:"):
            frame = frame[frame["value"].to_numpy() >= 0]
        if frame.empty:
            continue
        part = frame.groupby(
            ["day", "currency", "charge_category", "value"], sort=False, as_index=False
        )[_measures(base)].sum()
        values = keys.text(column, part["value"].to_numpy()) if column else ["*"] * len(part)
        yield from _rows(keys, part, ([dim] * len(part), values), load_id)


def _rows(keys: KeyCodes, part: pd.DataFrame, head: tuple[list, ...], load_id: int):
    """Rows to insert: the leading columns, then day, currency, category, load, measures."""
    return zip(
        *head,
        part["day"].tolist(),
        keys.text("currency", part["currency"].to_numpy()),
        keys.text("charge_category", part["charge_category"].to_numpy()),
        [load_id] * len(part),
        part["billed"].tolist(),
        part["effective"].tolist(),
        part["list"].tolist(),
        _gpu(part),
        strict=True,
    )


def rebuild_load(
    conn: sqlite3.Connection, load_id: int, first: int, last: int, key_ids: Iterable[int]
) -> None:
    """Recompute a load's daily_keys for ``key_ids`` from its facts (rows ``first``..
    ``last``), then its cube: after some of its rows were deleted or changed."""
    keys = sorted(set(key_ids))
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        marks = ",".join("?" * len(part))
        conn.execute(
            f"DELETE FROM daily_keys WHERE load_id = ? AND key_id IN ({marks})", (load_id, *part)
        )
        conn.execute(
            f"INSERT INTO daily_keys (key_id, day, load_id, {_DAILY_SQL}) "
            "SELECT c.key_id, c.day, ?, SUM(c.billed_cost), SUM(c.effective_cost), "
            "COALESCE(SUM(c.list_cost), 0), COALESCE(SUM(g.gpu_hours), 0), "
            "COALESCE(SUM(c.consumed_quantity), 0), COALESCE(SUM(c.pricing_quantity), 0) "
            "FROM charges c "
            "LEFT JOIN charge_gpu g ON g.id = c.id "
            f"WHERE c.id BETWEEN ? AND ? AND c.key_id IN ({marks}) GROUP BY c.key_id, c.day",
            (load_id, first, last, *part),
        )
        conn.execute(  # hourly usage whose facts are gone (m023 instance_hours)
            f"DELETE FROM instance_hours WHERE load_id = ? AND key_id IN ({marks}) AND NOT "
            "EXISTS (SELECT 1 FROM daily_keys d WHERE d.load_id = instance_hours.load_id "
            "AND d.key_id = instance_hours.key_id)",
            (load_id, *part),
        )
    details.rebuild(conn, load_id, first, last, keys)
    details.rebuild_months(conn, load_id, first, last, keys)
    write_cube(conn, load_id)


def drop_orphans(conn: sqlite3.Connection, first: int, last: int) -> None:
    """GPU-hours and extra columns (charge_extras) of facts in ``first``..``last`` that were
    deleted (a few rows, each one index seek; fact ids are never reused, so a leftover would
    only take room, and be read by the joins over charge_extras)."""
    for table, column in (("charge_gpu", "id"), ("charge_extras", "charge_id")):
        conn.execute(
            f"DELETE FROM {table} WHERE {column} BETWEEN ? AND ? AND NOT EXISTS "
            f"(SELECT 1 FROM charges c WHERE c.id = {table}.{column})",
            (first, last),
        )


def delete_load(conn: sqlite3.Connection, load_id: int) -> int:
    """Remove a load and everything it wrote; → the fact rows deleted."""
    row = conn.execute("SELECT first_rowid, last_rowid FROM loads WHERE id = ?", (load_id,))
    first, last = row.fetchone() or (None, None)
    deleted = 0
    if first is not None:
        deleted = conn.execute("DELETE FROM charges WHERE id BETWEEN ? AND ?", (first, last))
        deleted = deleted.rowcount
        conn.execute("DELETE FROM charge_gpu WHERE id BETWEEN ? AND ?", (first, last))
        conn.execute("DELETE FROM charge_extras WHERE charge_id BETWEEN ? AND ?", (first, last))
    tables = ("daily_keys", "cube", "cube_pairs", "load_partitions", "charge_blocks")
    tables += ("detail_days", "detail_months", "instance_hours", "resource_months")
    for table in (*tables, "load_columns"):
        conn.execute(f"DELETE FROM {table} WHERE load_id = ?", (load_id,))
    conn.execute("DELETE FROM loads WHERE id = ?", (load_id,))
    return deleted


# the distinct dimensions of the cube, one index seek each (a skip-scan)
_CUBE_DIMS = (
    "WITH RECURSIVE d(dim) AS (SELECT MIN(dim) FROM cube UNION ALL "
    "SELECT (SELECT MIN(dim) FROM cube WHERE dim > d.dim) FROM d WHERE d.dim IS NOT NULL) "
    "SELECT dim FROM d WHERE dim IS NOT NULL"
)


def cube_dimensions(conn: sqlite3.Connection) -> list[str]:
    """The dimensions the cube holds ('*' included), built-in and configured."""
    return [row[0] for row in conn.execute(_CUBE_DIMS).fetchall()]


def refresh_names(conn: sqlite3.Connection) -> None:
    """Rebuild the names table from the cube (keys that have charges) and account labels."""
    conn.execute("DELETE FROM names")
    for dim in cube_dimensions(conn):
        if dim == "*":
            continue
        conn.execute(
            "INSERT INTO names (dim, key) SELECT DISTINCT dim, key FROM cube WHERE dim = ?", (dim,)
        )
    conn.execute(
        "UPDATE names SET label = COALESCE((SELECT sub_account_name FROM charge_keys "
        "WHERE sub_account_id = names.key AND sub_account_name != '' LIMIT 1), '') "
        "WHERE dim = 'account'"
    )


def refresh_source(conn: sqlite3.Connection, source: str, kind: str, loaded_at: str) -> None:
    """The sources row of ``source`` from its loads: rows, first and last charge day."""
    rows, count = conn.execute(
        "SELECT COALESCE(SUM(rows), 0), COUNT(*) FROM loads WHERE source = ?", (source,)
    ).fetchone()
    if not count:
        conn.execute("DELETE FROM sources WHERE name = ?", (source,))
        return
    first, last = conn.execute(
        "SELECT date(MIN(day) * 86400, 'unixepoch'), date(MAX(day) * 86400, 'unixepoch') "
        "FROM cube WHERE dim = '*' AND key = '*' AND load_id IN "
        "(SELECT id FROM loads WHERE source = ?)",
        (source,),
    ).fetchone()
    conn.execute(
        "INSERT INTO sources (name, kind, first_day, last_day, rows, loaded_at) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, "
        "first_day = excluded.first_day, last_day = excluded.last_day, rows = excluded.rows, "
        "loaded_at = COALESCE(excluded.loaded_at, sources.loaded_at)",
        (source, kind, first, last, rows, loaded_at),
    )
