"""Composing the daily digest over a large cache (everything, and scoped to one team),
text and Block Kit included, and drawing its chart. Median of 3.

    python bench/bench_digest.py [--db bench/out/import_10000000_parquet.db]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from finops_bot.access import scope_from_pairs
from finops_bot.digest.daily import compose_daily
from finops_bot.questions import Engine
from finops_bot.render.digest import digest_blocks, digest_text
from finops_bot.render.digest_chart import chart_png
from finops_bot.store import connect, reads

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=HERE / "out" / "import_10000000_parquet.db")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not args.db.exists():
        print(json.dumps({"bench": "digest", "skipped": str(args.db),
                          "why": "run bench/bench_import.py first"}))  # fmt: skip
        return
    rows = sqlite3.connect(args.db).execute("SELECT COUNT(*) FROM charges").fetchone()[0]
    db = connect(args.db)
    engine = Engine(db)
    today = date.fromisoformat(reads.data_span(db)[1]) + timedelta(days=1)
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    for label, scope in (("everything", None), ("one team", scope_from_pairs(["teams=team-07"]))):
        view = engine.view(scope)
        times, chart = [], []
        for _ in range(args.runs):
            began = time.perf_counter()
            digest = compose_daily(db, view, "daily", today, now, "EffectiveCost")
            digest_text(digest), digest_blocks(digest)
            times.append(time.perf_counter() - began)
            began = time.perf_counter()
            chart_png(digest)
            chart.append(time.perf_counter() - began)
        line = {
            "bench": "digest",
            "cache_rows": rows,
            "scope": label,
            "compose_s": round(statistics.median(times), 3),
            "chart_s": round(statistics.median(chart), 3),
            "providers": len(digest.days),
            "chart_projects": len(digest.chart),
        }
        print(json.dumps(line))


if __name__ == "__main__":
    main()
