"""Fact reads the rollups cannot answer: one subject's charges grouped by a fact column
(resource, SKU) over a few days, for root causes. Only the fact id blocks that meet the
days are read (charge_blocks), filtered to the subject's dimension combinations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlite_utils import Database

from finops_bot.days import day_number
from finops_bot.store.reads import Where
from finops_bot.store.schema import MEASURE_COLUMNS
from finops_bot.store.tagsets import _in, _ranges

FACT_COLUMNS = {"resource": "resource_id", "sku": "sku_id"}


def fact_grouped(
    db: Database,
    where: Where,
    by: str,
    start: date,
    end: date,
    measure: str,
    currency: str,
    categories: Sequence[str] | None = None,
) -> dict[str, float]:
    """``by`` (resource or sku) → the subject's total in ``currency`` over [start, end]."""
    column = FACT_COLUMNS[by]
    where_sql, params = where._keys_sql(start)
    cats = ""
    if categories:
        cats = f" AND k.charge_category IN ({','.join('?' * len(categories))})"
    keys = [
        row[0]
        for row in db.execute(
            f"SELECT k.id FROM charge_keys k WHERE {where_sql}{cats} AND k.currency = ?",
            (*params, *(categories or ()), currency),
        )
    ]
    if not keys or measure not in MEASURE_COLUMNS or MEASURE_COLUMNS[measure] == "gpu_hours":
        return {}
    first, last = day_number(start), day_number(end)
    totals: dict[str, float] = {}
    value = MEASURE_COLUMNS[measure]
    for low, high in _ranges(db.conn, first, last):
        for key, total in db.execute(
            f"SELECT COALESCE(c.{column}, ''), SUM(c.{value}) FROM charges c "
            f"WHERE c.id BETWEEN ? AND ? AND c.day BETWEEN ? AND ? AND {_in('c.key_id', keys)} "
            "GROUP BY 1",
            (low, high, first, last),
        ):
            totals[key] = totals.get(key, 0.0) + (total or 0.0)
    return totals
