"""The cube: per source, day and currency, totals by one dimension, alone or by a breakdown.

It is what makes every question a short index range scan, whatever the fact table's size:
"top projects this month" reads days x projects rows, not the month's charges.
"""

from __future__ import annotations

import sqlite3

import pandas as pd

from finops_bot.ingest.normalize import day_strings

# question dimension → column of the facts summary ('*' = everything)
DIMENSIONS = {
    "*": None,
    "project": "project",
    "team": "team",
    "owner": "owner",
    "service": "service_name",
    "account": "sub_account_id",
    "provider": "provider",
    "region": "region",
}
# breakdowns kept per dimension ('' = none)
BREAKDOWNS = {"": None, "service": "service_name", "pricing": "pricing_category"}
MEASURES = ["billed", "effective", "list"]


def build_cube(facts: pd.DataFrame, source: str) -> list[tuple]:
    """facts: one row per (day, key) with the key's columns and the three measures."""
    if facts.empty:
        return []
    frames = []
    for dim, dim_col in DIMENSIONS.items():
        for sub, sub_col in BREAKDOWNS.items():
            if dim == sub:
                continue
            cols = ["day", "currency"]
            if dim_col:
                cols.append(dim_col)
            if sub_col:
                cols.append(sub_col)
            part = facts.groupby(cols, sort=False, as_index=False)[MEASURES].sum()
            part["key"] = part[dim_col] if dim_col else "*"
            part["subkey"] = part[sub_col] if sub_col else ""
            part["dim"] = dim
            part["sub"] = sub
            frames.append(part[["dim", "sub", "key", "day", "subkey", "currency", *MEASURES]])
    cube = pd.concat(frames, ignore_index=True)
    cube = cube.sort_values(["dim", "sub", "key", "day", "subkey", "currency"], kind="stable")
    return list(
        zip(
            cube["dim"].tolist(),
            cube["sub"].tolist(),
            cube["key"].astype(str).tolist(),
            day_strings(cube["day"].to_numpy()).tolist(),
            cube["subkey"].astype(str).tolist(),
            cube["currency"].tolist(),
            [source] * len(cube),
            cube["billed"].tolist(),
            cube["effective"].tolist(),
            cube["list"].tolist(),
            strict=True,
        )
    )


def refresh_names(conn: sqlite3.Connection) -> None:
    """Rebuild the names table from the cube (keys that have charges) and account labels."""
    conn.execute("DELETE FROM names")
    for dim in DIMENSIONS:
        if dim == "*":
            continue
        conn.execute(
            "INSERT INTO names (dim, key) SELECT DISTINCT dim, key FROM cube "
            "WHERE dim = ? AND sub = ''",
            (dim,),
        )
    conn.execute(
        "UPDATE names SET label = COALESCE((SELECT sub_account_name FROM charge_keys "
        "WHERE sub_account_id = names.key AND sub_account_name != '' LIMIT 1), '') "
        "WHERE dim = 'account'"
    )
