"""Rollups written at the end of each load, so no question reads the fact table.

- cube: totals per day, currency and value of one dimension. "Top projects this month"
  reads days x projects rows, whatever the number of charges.
- daily_keys: totals per day and dimension combination; breakdowns of one subject read the
  few combinations that subject has.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pandas as pd

from finops_bot.store.schema import SUBJECT_COLUMNS

DIMENSIONS = {"*": None, **SUBJECT_COLUMNS}
MEASURES = ["billed", "effective", "list"]


def cube_rows(facts: pd.DataFrame, load_id: int) -> Iterator[tuple]:
    """facts: one row per (day, key_id) with the key's columns and the three measures."""
    if facts.empty:
        return
    for dim in sorted(DIMENSIONS):
        column = DIMENSIONS[dim]
        cols = ["day", "currency"] + ([column] if column else [])
        part = facts.groupby(cols, sort=False, as_index=False)[MEASURES].sum()
        keys = part[column].astype(str).tolist() if column else ["*"] * len(part)
        yield from zip(
            [dim] * len(part),
            keys,
            part["day"].tolist(),
            part["currency"].tolist(),
            [load_id] * len(part),
            part["billed"].tolist(),
            part["effective"].tolist(),
            part["list"].tolist(),
            strict=True,
        )


def daily_key_rows(summary: pd.DataFrame, load_id: int) -> Iterator[tuple]:
    summary = summary.sort_values(["key_id", "day"], kind="stable")
    return zip(
        summary["key_id"].tolist(),
        summary["day"].tolist(),
        [load_id] * len(summary),
        summary["billed"].tolist(),
        summary["effective"].tolist(),
        summary["list"].tolist(),
        strict=True,
    )


def refresh_names(conn: sqlite3.Connection) -> None:
    """Rebuild the names table from the cube (keys that have charges) and account labels."""
    conn.execute("DELETE FROM names")
    for dim in DIMENSIONS:
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
