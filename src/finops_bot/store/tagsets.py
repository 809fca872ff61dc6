"""Tags nobody configured, read from the facts; and the configured dimensions' lookup rows.

A tag key is matched the way allocation keys are (ingest.tags): trimmed, case-insensitive,
with or without a provider prefix (``user:env``, ``aws:env``), a key spelled exactly winning
over a prefixed one in the same set; values are matched trimmed and case-insensitively.

The scan: the tag sets that hold the key are found once (json_each over tag_sets), then the
facts are summed over the id ranges of the blocks (charge_blocks, a day span per batch a load
wrote) that meet the period, with the tag-set ids and the dimension combinations of each
currency as literal IN lists: one pass, no sort, no per-row join. Several values of one key
are one pass too, up to ``MAX_SUMS`` sums per row; beyond that the rows are grouped by tag
set and combination (a sort, slower). A large scan is split over a few read-only
connections in threads (SQLite releases the GIL while it steps); if anything is committed
meanwhile (``PRAGMA data_version``), it is read again in one transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

MAX_SUMS = 24
PARALLEL_ROWS = 1_000_000  # scans of more fact rows than this run on several connections
MAX_WORKERS = 4


def key_dims_rows(keys: Iterable[tuple[int, str]]) -> list[tuple[str, str, int]]:
    """(dim, value, key id) for combinations whose ``dims`` JSON is not empty."""
    rows = []
    for key_id, text in keys:
        if text:
            rows.extend((dim, value, key_id) for dim, value in json.loads(text).items())
    return rows


def normalise_key(key: str) -> str:
    return key.strip().lower()


def _rank(stored: str, wanted: str) -> int | None:
    """0 when ``stored`` spells ``wanted`` exactly, 1 with a provider prefix, else None."""
    norm = stored.strip().lower()
    if norm == wanted:
        return 0
    if ":" in norm and norm.rsplit(":", 1)[1].strip() == wanted:
        return 1
    return None


def _text(kind: str, value: object) -> str:
    if kind in ("null", "true"):
        return ""
    if kind == "false":
        return "False"
    return str(value).strip()


def tag_set_values(conn: sqlite3.Connection, key: str) -> dict[int, str]:
    """tag-set id → the value the set gives ``key`` (as stored, trimmed)."""
    wanted = normalise_key(key)
    best: dict[int, tuple[int, str]] = {}
    # sets whose text lacks the key are never parsed
    for tags_id, stored, kind, value in conn.execute(
        "SELECT t.id, j.key, j.type, j.value FROM tag_sets t, json_each(t.tags) j "
        "WHERE instr(lower(t.tags), ?) > 0 AND instr(lower(j.key), ?) > 0",
        (wanted, wanted),
    ):
        rank = _rank(stored, wanted)
        if rank is not None and (tags_id not in best or rank < best[tags_id][0]):
            best[tags_id] = (rank, _text(kind, value))
    return {tags_id: value for tags_id, (_, value) in best.items()}


def tag_keys(conn: sqlite3.Connection) -> list[str]:
    """Every tag key the remaining tags hold, trimmed, lower-cased, without a prefix."""
    keys = {
        k.strip().lower().rsplit(":", 1)[-1].strip()
        for (k,) in conn.execute("SELECT DISTINCT j.key FROM tag_sets t, json_each(t.tags) j")
    }
    return sorted(k for k in keys if k)


@dataclass(frozen=True)
class Scan:
    """What to sum: the measure column, the day span, the combinations allowed (None: all)
    with their currencies, and the tag-set id groups (one per value)."""

    column: str
    first_day: int
    last_day: int
    currency_of: dict[int, str]  # key id → currency ('' for a quantity measure)
    keys: set[int] | None
    groups: list[list[int]]
    quantity: bool = False  # GPU-hours: values with none are left out


def value_totals(
    conn: sqlite3.Connection, key: str, values: Sequence[str], plan: Callable[..., Scan]
) -> dict[str, float]:
    """Currency → total of the charges whose tag ``key`` has one of ``values``."""
    wanted = {v.strip().lower() for v in values}
    ids = [i for i, v in tag_set_values(conn, key).items() if v.lower() in wanted]
    scope = plan([ids])
    got = [(c, t) for (_, c), t in scan(conn, scope).items() if t or not scope.quantity]
    return dict(sorted(got, key=lambda r: -r[1]))


def value_grouped(
    conn: sqlite3.Connection, key: str, plan: Callable[..., Scan], everything: dict[str, float]
) -> list[tuple[str, str, float]]:
    """(value, currency, total) of tag ``key``; '' for the rest of ``everything`` (the
    subject's totals per currency)."""
    by_value: dict[str, list[int]] = {}
    for tags_id, value in tag_set_values(conn, key).items():
        by_value.setdefault(value, []).append(tags_id)
    values = sorted(by_value)
    scope = plan([by_value[v] for v in values])
    rows = [(values[g], c, t) for (g, c), t in scan(conn, scope).items()]
    tagged: dict[str, float] = defaultdict(float)
    for _, currency, total in rows:
        tagged[currency] += total
    for currency, total in everything.items():
        rest = total - tagged[currency]
        if abs(rest) > 1e-9 * max(abs(total), 1.0):
            rows.append(("", currency, rest))
    if scope.quantity:
        rows = [r for r in rows if r[2]]
    return sorted(rows, key=lambda r: -r[2])


def _in(column: str, ids: Sequence[int]) -> str:
    """Integer ids from the cache as a literal list (SQLite makes a long one a b-tree)."""
    return f"{column} IN ({','.join(str(int(i)) for i in sorted(ids))})"


def _ranges(conn: sqlite3.Connection, first_day: int, last_day: int) -> list[tuple[int, int]]:
    """The fact id ranges of the blocks that meet the days, adjacent ones merged."""
    merged: list[list[int]] = []
    for first, last in conn.execute(
        "SELECT first_id, last_id FROM charge_blocks WHERE last_day >= ? AND first_day <= ? "
        "ORDER BY first_id",
        (first_day, last_day),
    ):
        if merged and first == merged[-1][1] + 1:
            merged[-1][1] = last
        else:
            merged.append([first, last])
    return [(a, b) for a, b in merged]


def _key_filter(plan: Scan) -> str:
    """The combinations allowed, as the shorter of the list or its complement."""
    if plan.keys is None:
        return ""
    allowed = [k for k in plan.currency_of if k in plan.keys]
    refused = [k for k in plan.currency_of if k not in plan.keys]
    if not refused:
        return ""
    if len(allowed) <= len(refused):
        return f" AND {_in('c.key_id', allowed)}"
    return f" AND NOT {_in('c.key_id', refused)}"


def _source(plan: Scan) -> tuple[str, str, str]:
    """(FROM, the fact id column, the measure): GPU-hours live beside the facts."""
    if plan.column == "gpu_hours":
        return "charge_gpu g JOIN charges c ON c.id = g.id", "g.id", "g.gpu_hours"
    return "charges c", "c.id", f"c.{plan.column}"


def scan(conn: sqlite3.Connection, plan: Scan) -> dict[tuple[int, str], float]:
    """(group index, currency) → total over the facts. The largest group and currency are
    what is left of the total once the others are taken away, so each row is tested only
    against the smaller id lists."""
    currencies: dict[str, list[int]] = defaultdict(list)
    for key_id, currency in plan.currency_of.items():
        if plan.keys is None or key_id in plan.keys:
            currencies[currency].append(key_id)
    all_ids = [i for g in plan.groups for i in g]
    if not all_ids or not currencies:
        return {}
    big_c = max(currencies, key=lambda c: len(currencies[c]))
    small_c = [c for c in currencies if c != big_c]
    big_g = max(range(len(plan.groups)), key=lambda g: len(plan.groups[g]))
    small_g = [g for g in range(len(plan.groups)) if g != big_g and plan.groups[g]]
    if (1 + len(small_g)) * (1 + len(small_c)) > MAX_SUMS:
        return _grouped_scan(conn, plan, currencies)
    conds = {("g", g): _in("c.tags_id", plan.groups[g]) for g in small_g}
    conds |= {("c", c): _in("c.key_id", currencies[c]) for c in small_c}
    cells = [(g, c) for g in (None, *small_g) for c in (None, *small_c)]
    table, fact_id, value = _source(plan)
    sums = []
    for g, c in cells:
        when = " AND ".join(conds[k] for k in (("g", g), ("c", c)) if k[1] is not None)
        sums.append(f"SUM(CASE WHEN {when} THEN {value} END)" if when else f"SUM({value})")
    sql = (
        f"SELECT {', '.join(sums)} FROM {table} WHERE {fact_id} BETWEEN ? AND ? "
        f"AND c.day BETWEEN ? AND ? AND {_in('c.tags_id', all_ids)}{_key_filter(plan)}"
    )
    got: dict[tuple, float | None] = dict.fromkeys(cells)
    for row in _run(conn, sql, plan):
        for cell, total in zip(cells, row, strict=True):
            if total is not None:
                got[cell] = (got[cell] or 0.0) + total
    return _cells(got, small_g, small_c, big_g, big_c)


def _cells(got: dict, small_g: list[int], small_c: list[str], big_g: int, big_c: str):
    """Every (group, currency) from the sums: the small ones as read, the big ones as the
    rest (absent when nothing, or only rounding, is left)."""
    value = {k: v or 0.0 for k, v in got.items()}
    out = {(g, c): got[(g, c)] for g in small_g for c in small_c}
    for g in small_g:
        out[(g, big_c)] = value[(g, None)] - sum(value[(g, c)] for c in small_c)
    for c in small_c:
        out[(big_g, c)] = value[(None, c)] - sum(value[(g, c)] for g in small_g)
    out[(big_g, big_c)] = (
        value[(None, None)]
        - sum(value[(g, None)] for g in small_g)
        - sum(out[(big_g, c)] for c in small_c)
    )
    scale = max((abs(v) for v in value.values()), default=0.0)
    return {k: v for k, v in out.items() if v is not None and abs(v) > 1e-12 * scale}


def _grouped_scan(conn, plan: Scan, currencies: dict[str, list[int]]):
    group_of = {i: g for g, ids in enumerate(plan.groups) for i in ids}
    currency_of = {k: c for c, keys in currencies.items() for k in keys}
    table, fact_id, value = _source(plan)
    sql = (
        f"SELECT c.tags_id, c.key_id, SUM({value}) FROM {table} WHERE {fact_id} BETWEEN ? AND ? "
        f"AND c.day BETWEEN ? AND ? AND {_in('c.tags_id', list(group_of))} GROUP BY 1, 2"
    )
    out: dict[tuple[int, str], float] = defaultdict(float)
    for tags_id, key_id, total in _run(conn, sql, plan):
        if total is not None and key_id in currency_of:
            out[(group_of[tags_id], currency_of[key_id])] += total
    return dict(out)


def _file_of(conn: sqlite3.Connection) -> Path | None:
    for _, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return Path(file) if file else None
    return None


def _pieces(ranges: list[tuple[int, int]], parts: int) -> list[tuple[int, int]]:
    """The ranges cut into about ``parts`` pieces of equal size."""
    size = max(sum(b - a + 1 for a, b in ranges) // parts, 1)
    out = []
    for a, b in ranges:
        while b - a + 1 > size * 1.5:
            out.append((a, a + size - 1))
            a += size
        out.append((a, b))
    return out


def _run(conn: sqlite3.Connection, sql: str, plan: Scan) -> list[tuple]:
    """``sql`` (parameters: first id, last id, first day, last day) over every block range
    of the period: the rows it returns, from one consistent state of the cache."""
    ranges = _ranges(conn, plan.first_day, plan.last_day)
    rows = sum(b - a + 1 for a, b in ranges)
    path = _file_of(conn)
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    if rows > PARALLEL_ROWS and workers > 1 and path is not None and not conn.in_transaction:
        (before,) = conn.execute("PRAGMA data_version").fetchone()
        out = _parallel(path, sql, plan, _pieces(ranges, workers * 2), workers)
        (after,) = conn.execute("PRAGMA data_version").fetchone()
        if out is not None and before == after:
            return out
        ranges = _ranges(conn, plan.first_day, plan.last_day)
    opened = not conn.in_transaction
    if opened:
        conn.execute("BEGIN")  # one snapshot for every range
    try:
        days = (plan.first_day, plan.last_day)
        return [row for a, b in ranges for row in conn.execute(sql, (a, b, *days)).fetchall()]
    finally:
        if opened:
            conn.execute("COMMIT")


def _parallel(path: Path, sql: str, plan: Scan, pieces, workers: int) -> list[tuple] | None:
    def part(piece: tuple[int, int]) -> list[tuple]:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA query_only=ON")
            return conn.execute(sql, (*piece, plan.first_day, plan.last_day)).fetchall()
        finally:
            conn.close()

    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="finops-scan") as pool:
            return [row for rows in pool.map(part, pieces) for row in rows]
    except sqlite3.Error:  # e.g. a file this process may only read through its own handle
        return None
