"""Detection speed over a large cache: every usage series of the default dimensions, data
through the cache's last day; detection alone, then with the root causes of what it found
(resource and SKU from the facts), in the same run. Median of 3.

    python bench/bench_detect.py [--db bench/out/import_10000000_parquet.db]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from datetime import date
from pathlib import Path

from finops_bot.anomalies.rules import AnomalyRules
from finops_bot.anomalies.run import find
from finops_bot.store import connect, reads

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=HERE / "out" / "import_10000000_parquet.db")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not args.db.exists():
        print(json.dumps({"bench": "detect", "skipped": str(args.db),
                          "why": "run bench/bench_import.py first"}))  # fmt: skip
        return
    rows = sqlite3.connect(args.db).execute("SELECT COUNT(*) FROM charges").fetchone()[0]
    db = connect(args.db)
    through = date.fromisoformat(reads.data_span(db)[1])
    rules = AnomalyRules()
    for explain in (False, True):
        times, result = [], None
        for _ in range(args.runs):
            began = time.perf_counter()
            result = find(db, rules, through, explain=explain, labels={})
            times.append(time.perf_counter() - began)
        alerts = [a for a in result.anomalies if a.part_of is None]
        print(json.dumps({
            "bench": "detect", "cache_rows": rows, "root_causes": explain,
            "series": result.series, "days": (result.span[1] - result.span[0]).days + 1,
            "episodes": len(result.anomalies), "alerts": len(alerts),
            "events": len(result.events), "median_s": round(statistics.median(times), 3),
        }))  # fmt: skip


if __name__ == "__main__":
    main()
