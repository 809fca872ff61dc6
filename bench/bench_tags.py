"""Tag reads from the facts (tag keys nobody configured): reads.tag_totals and
reads.tag_grouped on a cache built by bench_import.py (its files tag every charge with
``env``: prod or dev, outside the allocation columns), against a plain SQL scan of the same
fact rows in the same run.

    python bench/bench_tags.py [--db bench/out/import_10000000_parquet.db] [--runs 5]

Prints one JSON line per read (median and best of --runs, in seconds), then a table.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

from finops_bot.store import connect, reads
from finops_bot.store.reads import Where

HERE = Path(__file__).resolve().parent


def _time(fn, runs: int) -> tuple[float, float, object]:
    seconds, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds), min(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=HERE / "out" / "import_10000000_parquet.db")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    db = connect(args.db)
    first, last = (date.fromisoformat(d) for d in reads.data_span(db))
    month_end = last.replace(day=1) - timedelta(days=1)
    month = (month_end.replace(day=1), month_end)
    span = (first, last)
    rows = db.execute("SELECT COUNT(*) FROM charges").fetchone()[0]
    plain = sqlite3.connect(f"{args.db.resolve().as_uri()}?mode=ro", uri=True)
    reads_ = {
        "plain SQL scan, every day (baseline)": lambda: plain.execute(
            "SELECT SUM(effective_cost) FROM charges WHERE day >= 0"
        ).fetchone(),
        "env prod, last month": lambda: reads.tag_totals(
            db, "env", "prod", *month, "EffectiveCost"
        ),
        "env prod, every day": lambda: reads.tag_totals(db, "env", "prod", *span, "EffectiveCost"),
        "env prod usage, last month": lambda: reads.tag_totals(
            db, "env", "prod", *month, "EffectiveCost", categories=("Usage",)
        ),
        "env prod of team-03, last month": lambda: reads.tag_totals(
            db, "env", "prod", *month, "EffectiveCost", where=Where.of({"team": ["team-03"]})
        ),
        "by env, last month": lambda: reads.tag_grouped(db, "env", *month, "EffectiveCost"),
        "by env, every day": lambda: reads.tag_grouped(db, "env", *span, "EffectiveCost"),
    }
    print(f"cache {args.db.name}: {rows:,} charges, {first} … {last}")
    lines = []
    for name, fn in reads_.items():
        median, best, result = _time(fn, args.runs)
        line = {"bench": "tags", "read": name, "rows": rows, "median_s": round(median, 3),
                "best_s": round(best, 3), "result": str(result)[:120]}  # fmt: skip
        print(json.dumps(line))
        lines.append(line)
    print(f"\n{'read':<36} {'median s':>9} {'best s':>8}")
    for line in lines:
        print(f"{line['read']:<36} {line['median_s']:>9} {line['best_s']:>8}")


if __name__ == "__main__":
    main()
