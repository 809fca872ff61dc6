"""The detail rollup (m022 ``detail_days``) the FOCUS use-case library reads: per day, load,
dimension combination and the reporting columns of charge_extras (TEXTS, '' where none),
the three measures, ContractedCost, the quantities and the pricing-currency costs, of the
charges that carry one of them (the rest is daily_keys', see store.detail_reads); and
(m026 ``detail_months``) the same per calendar month for every charge, what whole months
are read from.

The loader keeps it beside its (day, key) summary while it reads (``DetailTracker``), so an
import pays one more group-by per batch, not another pass over the facts; a load partly
replaced or merged is rebuilt from its facts (``rebuild``), as daily_keys is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np
import pandas as pd

from finops_bot.store.chunk import ChunkExtras
from finops_bot.store.extras import TEXT_COLUMNS

TEXTS = (
    "charge_class",
    "invoice_id",
    "invoice_issuer_name",
    "publisher_name",
    "service_subcategory",
    "availability_zone",
    "pricing_currency",
    "capacity_reservation_id",
    "capacity_reservation_status",
    "commitment_discount_category",
    "commitment_discount_status",
)
MEASURES = (
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
    "consumed_quantity",
    "pricing_quantity",
    "pc_effective_cost",
    "pc_list_cost",
    "pc_contracted_cost",
)
_AT = [list(TEXT_COLUMNS).index(c) for c in TEXTS]
# an extras row that detail_days holds: a reporting column, or a cost only the extras have
_CARRIES = (
    f"COALESCE({', '.join(f'x.{c}' for c in TEXTS)}) IS NOT NULL OR COALESCE("
    "x.contracted_cost, x.pricing_currency_effective_cost, x.pricing_currency_list_unit_price, "
    "x.pricing_currency_contracted_unit_price) IS NOT NULL"
)
_COMPACT_ROWS = 200_000


def _insert(table: str, first: str) -> str:
    names = ", ".join((first, "load_id", "key_id", *TEXTS, *MEASURES))
    marks = ",".join("?" * (3 + len(TEXTS) + len(MEASURES)))
    return f"INSERT INTO {table} ({names}) VALUES ({marks})"


class _Sums:
    """The measures summed by ``keys``, batch by batch, compacted as they grow."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = list(keys)
        self._parts: list[pd.DataFrame] = []
        self._rows = self._merged = 0

    def add(self, frame: pd.DataFrame) -> None:
        part = _grouped(frame, self.keys)
        self._parts.append(part)
        self._rows += len(part)
        if self._rows > max(_COMPACT_ROWS, 2 * self._merged):
            merged = _grouped(pd.concat(self._parts, ignore_index=True), self.keys)
            self._parts, self._rows, self._merged = [merged], len(merged), len(merged)

    def take(self) -> pd.DataFrame | None:
        if not self._parts:
            return None
        merged = _grouped(pd.concat(self._parts, ignore_index=True), self.keys)
        self._parts, self._rows, self._merged = [], 0, 0
        return merged


class DetailTracker:
    """Accumulates a load's detail rows batch by batch (detail_days: the charges that carry
    a reporting column or an extras-only cost; detail_months: every charge, by month);
    ``write`` stores them once."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, ...], int] = {("",) * len(TEXTS): 0}
        self._days = _Sums(("day", "key_id", "g"))
        self._months = _Sums(("month", "key_id", "g"))

    def add(self, frame: pd.DataFrame, extras: ChunkExtras | None) -> None:
        """A batch at the cache's grain (the loader's frame, extra columns included)."""
        n = len(frame)
        days = frame["day"].to_numpy()
        columns = {
            "day": days,
            "month": month_start(days.astype(np.int64)),
            "key_id": frame["key_id"].to_numpy(),
            "g": self._codes(frame, extras),
            "billed_cost": frame["billed"].to_numpy(dtype=np.float64),
            "effective_cost": frame["effective"].to_numpy(dtype=np.float64),
            "list_cost": _floats(frame, "list", n),
            "consumed_quantity": _floats(frame, "cq", n),
            "pricing_quantity": _floats(frame, "pq", n),
        }
        pq = columns["pricing_quantity"]
        columns["contracted_cost"] = _floats(frame, "contracted_cost", n)
        columns["pc_effective_cost"] = _floats(frame, "pricing_currency_effective_cost", n)
        columns["pc_list_cost"] = _floats(frame, "pricing_currency_list_unit_price", n) * pq
        columns["pc_contracted_cost"] = (
            _floats(frame, "pricing_currency_contracted_unit_price", n) * pq
        )
        table = pd.DataFrame(columns, copy=False)
        self._months.add(table.drop(columns="day"))
        if extras is None:
            return
        extra = columns["g"] != 0  # a reporting column, or a cost only the extras have
        for name in ("contracted_cost", "pc_effective_cost", "pc_list_cost", "pc_contracted_cost"):
            extra |= ~np.isnan(columns[name])
        if extra.any():
            self._days.add(table.drop(columns="month")[extra])

    def _codes(self, frame: pd.DataFrame, extras: ChunkExtras | None) -> np.ndarray:
        if extras is None or "x" not in frame:
            return np.zeros(len(frame), dtype=np.int64)
        local = np.empty(len(extras.texts), dtype=np.int64)
        for i, texts in enumerate(extras.texts):
            key = tuple(texts[j] or "" for j in _AT)
            local[i] = self._ids.setdefault(key, len(self._ids))
        return local[frame["x"].to_numpy(dtype=np.int64)]

    def write(self, conn: sqlite3.Connection, load_id: int) -> None:
        texts = np.empty((len(self._ids), len(TEXTS)), dtype=object)
        for key, code in self._ids.items():
            texts[code] = key
        for table, sums, first in (
            ("detail_days", self._days, "day"),
            ("detail_months", self._months, "month"),
        ):
            merged = sums.take()
            if merged is None:
                continue
            rows = texts[merged["g"].to_numpy(dtype=np.int64)]
            columns = [
                merged[first].astype(int).tolist(),
                [load_id] * len(merged),
                merged["key_id"].astype(int).tolist(),
                *(rows[:, i].tolist() for i in range(len(TEXTS))),
                *(_nullable(merged[m].to_numpy(dtype=np.float64)) for m in MEASURES),
            ]
            conn.executemany(_insert(table, first), zip(*columns, strict=True))


def rebuild(
    conn: sqlite3.Connection, load_id: int, first: int, last: int, key_ids: Iterable[int]
) -> None:
    """Recompute a load's detail rows for ``key_ids`` from its facts (rows ``first``..
    ``last``) and their extras: after some were deleted or merged."""
    keys = sorted(set(key_ids))
    texts = ", ".join(f"COALESCE(x.{c}, '')" for c in TEXTS)
    groups = ", ".join(str(i + 4) for i in range(len(TEXTS)))
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        marks = ",".join("?" * len(part))
        conn.execute(
            f"DELETE FROM detail_days WHERE load_id = ? AND key_id IN ({marks})", (load_id, *part)
        )
        conn.execute(
            f"INSERT INTO detail_days SELECT c.day, ?, c.key_id, {texts}, SUM(c.billed_cost), "
            "SUM(c.effective_cost), SUM(c.list_cost), SUM(x.contracted_cost), "
            "SUM(c.consumed_quantity), SUM(c.pricing_quantity), "
            "SUM(x.pricing_currency_effective_cost), "
            "SUM(x.pricing_currency_list_unit_price * c.pricing_quantity), "
            "SUM(x.pricing_currency_contracted_unit_price * c.pricing_quantity) "
            f"FROM charges c JOIN charge_extras x ON x.charge_id = c.id WHERE ({_CARRIES}) "
            f"AND c.id BETWEEN ? AND ? AND c.key_id IN ({marks}) GROUP BY 1, 2, 3, {groups}",
            (load_id, first, last, *part),
        )
        conn.execute(
            f"DELETE FROM detail_months WHERE load_id = ? AND key_id IN ({marks})",
            (load_id, *part),
        )
        conn.execute(
            f"{_MONTHS_SELECT} AND c.key_id IN ({marks}) {_MONTHS_GROUP}",
            (load_id, first, last, *part),
        )


def _grouped(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.groupby(keys, sort=False, as_index=False)[list(MEASURES)].sum(min_count=1)


def _floats(frame: pd.DataFrame, column: str, n: int) -> np.ndarray:
    if column not in frame:
        return np.full(n, np.nan)
    return frame[column].to_numpy(dtype=np.float64, na_value=np.nan)


def _nullable(values: np.ndarray) -> list:
    out = values.tolist()
    return [None if v != v else v for v in out] if np.isnan(values).any() else out


# -- resource_months (m025): the resource and SKU answers of whole months ----------------
MONTH_MEASURES = (
    "billed_cost",
    "effective_cost",
    "list_cost",
    "consumed_quantity",
    "pricing_quantity",
)
_MONTH_SQL = (
    "CAST(julianday(date(c.day * 86400, 'unixepoch', 'start of month')) - 2440587.5 AS INTEGER)"
)
_MONTH_INSERT = (
    "INSERT INTO resource_months (month, load_id, key_id, resource_id, sku_id, last_day, "
    f"{', '.join(MONTH_MEASURES)}) VALUES ({','.join('?' * (6 + len(MONTH_MEASURES)))})"
)


def month_start(days: np.ndarray) -> np.ndarray:
    """Day numbers → the day number of their month's first day."""
    return (
        days.astype("datetime64[D]")
        .astype("datetime64[M]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )


class MonthTracker:
    """Accumulates a load's (month, key, resource, SKU) totals batch by batch."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []
        self._rows = 0
        self._merged = 0

    def add(self, frame: pd.DataFrame) -> None:
        days = frame["day"].to_numpy(dtype=np.int64)
        part = pd.DataFrame(
            {
                "month": month_start(days),
                "key_id": frame["key_id"].to_numpy(),
                "resource_id": frame["resource_id"].astype(object).fillna(""),
                "sku_id": frame["sku_id"].astype(object).fillna(""),
                "last_day": days,
                "billed_cost": frame["billed"].to_numpy(dtype=np.float64),
                "effective_cost": frame["effective"].to_numpy(dtype=np.float64),
                "list_cost": _floats(frame, "list", len(frame)),
                "consumed_quantity": _floats(frame, "cq", len(frame)),
                "pricing_quantity": _floats(frame, "pq", len(frame)),
            },
            copy=False,
        )
        part = _by_month(part)
        self._parts.append(part)
        self._rows += len(part)
        if self._rows > max(_COMPACT_ROWS, 2 * self._merged):
            merged = _by_month(pd.concat(self._parts, ignore_index=True))
            self._parts, self._rows, self._merged = [merged], len(merged), len(merged)

    def write(self, conn: sqlite3.Connection, load_id: int) -> None:
        if not self._parts:
            return
        m = _by_month(pd.concat(self._parts, ignore_index=True))
        columns = [
            m["month"].astype(int).tolist(),
            [load_id] * len(m),
            m["key_id"].astype(int).tolist(),
            m["resource_id"].astype(str).tolist(),
            m["sku_id"].astype(str).tolist(),
            m["last_day"].astype(int).tolist(),
            *(_nullable(m[c].to_numpy(dtype=np.float64)) for c in MONTH_MEASURES),
        ]
        conn.executemany(_MONTH_INSERT, zip(*columns, strict=True))
        self._parts = []


def _by_month(frame: pd.DataFrame) -> pd.DataFrame:
    groups = frame.groupby(["month", "key_id", "resource_id", "sku_id"], sort=False)
    sums = groups[list(MONTH_MEASURES)].sum(min_count=1)
    sums["last_day"] = groups["last_day"].max()
    return sums.reset_index()


_MONTHS_SELECT = (  # detail_months of a load's facts: every charge, its extras if any
    f"INSERT INTO detail_months SELECT {_MONTH_SQL}, ?, c.key_id, "
    + ", ".join(f"COALESCE(x.{c}, '')" for c in TEXTS)
    + ", SUM(c.billed_cost), SUM(c.effective_cost), SUM(c.list_cost), SUM(x.contracted_cost), "
    "SUM(c.consumed_quantity), SUM(c.pricing_quantity), SUM(x.pricing_currency_effective_cost), "
    "SUM(x.pricing_currency_list_unit_price * c.pricing_quantity), "
    "SUM(x.pricing_currency_contracted_unit_price * c.pricing_quantity) "
    "FROM charges c LEFT JOIN charge_extras x ON x.charge_id = c.id WHERE c.id BETWEEN ? AND ?"
)
_MONTHS_GROUP = "GROUP BY 1, 2, 3, " + ", ".join(str(i + 4) for i in range(len(TEXTS)))


def rebuild_months(
    conn: sqlite3.Connection,
    load_id: int,
    first: int,
    last: int,
    key_ids: Iterable[int] | None = None,
    days: tuple[int, int] | None = None,
) -> None:
    """Recompute a load's resource_months from its facts: for ``key_ids``, or for the
    months that meet ``days`` (first, last day numbers: a sync window replaced), and then
    its detail_months too (``rebuild`` does those for ``key_ids``)."""
    sums = "MAX(c.day), " + ", ".join(f"SUM(c.{m})" for m in MONTH_MEASURES)
    select = (
        f"INSERT INTO resource_months SELECT {_MONTH_SQL}, ?, c.key_id, COALESCE(c.resource_id, "
        f"''), COALESCE(c.sku_id, ''), {sums} FROM charges c WHERE c.id BETWEEN ? AND ? "
    )
    if days is not None:
        low = int(month_start(np.array([days[0]]))[0])
        high = int(month_start(np.array([days[1]]))[0])
        for table, insert, group in (
            ("resource_months", select, "GROUP BY 1, 2, 3, 4, 5"),
            ("detail_months", _MONTHS_SELECT, _MONTHS_GROUP),
        ):
            conn.execute(
                f"DELETE FROM {table} WHERE load_id = ? AND month BETWEEN ? AND ?",
                (load_id, low, high),
            )
            conn.execute(
                f"{insert} AND {_MONTH_SQL} BETWEEN ? AND ? {group}",
                (load_id, first, last, low, high),
            )
        return
    keys = sorted(set(key_ids or ()))
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        marks = ",".join("?" * len(part))
        conn.execute(
            f"DELETE FROM resource_months WHERE load_id = ? AND key_id IN ({marks})",
            (load_id, *part),
        )
        conn.execute(
            f"{select} AND c.key_id IN ({marks}) GROUP BY 1, 2, 3, 4, 5",
            (load_id, first, last, *part),
        )
