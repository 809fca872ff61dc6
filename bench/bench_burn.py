"""The live burn over a synthetic fleet: live_estimate (heartbeats × price for the days
billing lacks) and burn_now (the fleet's $/h), on N nodes × G GPUs × D days of minutes.

    python bench/bench_burn.py [--nodes 200] [--gpus 8] [--days 3] [--db PATH]

The minutes are written straight into gpu_latest / gpu_minutes in SQL (the heartbeat
endpoint would take minutes for millions of rows; bench_heartbeats.py measures that path):
every GPU reports every minute but one in 97 on its first GPU (gaps), labels as the agent
gives them. Prints one JSON line per measurement (best of 5, ms).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from finops_bot.gpu.burn import burn_now, live_estimate
from finops_bot.gpu.prices import PriceBook
from finops_bot.store import connect

END = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
TYPES = ("('aws', 'p4d.24xlarge')", "('gcp', 'a2-highgpu-8g')", "('azure', 'Standard_ND96asr_v4')")


def build(db, nodes: int, gpus: int, days: int) -> int:
    start = END - timedelta(days=days)
    with db.conn:
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?), "
            "g(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM g WHERE j < ?) "
            "INSERT INTO gpu_latest (node, gpu, hostname, provider, instance_type, region, spot, "
            "project, owner, gpu_index, name, state, util_max, window_end, received_at, "
            "busy_minute, first_minute, progress_minute) "
            "SELECT 'node-' || i, 'node-' || i || '-gpu' || j, 'node-' || i, "
            "CASE i % 3 WHEN 0 THEN 'aws' WHEN 1 THEN 'gcp' ELSE 'azure' END, "
            "CASE i % 3 WHEN 0 THEN 'p4d.24xlarge' WHEN 1 THEN 'a2-highgpu-8g' "
            "ELSE 'Standard_ND96asr_v4' END, 'us-east-1', 0, 'proj-' || (i % 17), "
            "'owner' || (i % 9), j, 'NVIDIA A100-SXM4-40GB', 'ok', 50, ?, ?, ?, ?, ? FROM n, g",
            (
                nodes - 1,
                gpus - 1,
                END.isoformat(),
                END.isoformat(),
                f"{END:%Y-%m-%dT%H:%M}",
                f"{start:%Y-%m-%dT%H:%M}",
                f"{start:%Y-%m-%dT%H:%M}",
            ),
        )
        db.execute(
            "WITH RECURSIVE m(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM m WHERE k < ?) "
            "INSERT INTO gpu_minutes (node, gpu, minute, util_min, util_mean, util_max, project, "
            "owner) SELECT l.node, l.gpu, strftime('%Y-%m-%dT%H:%M', ?, '+' || k || ' minutes'), "
            "50, 50, 50, l.project, l.owner FROM gpu_latest l, m "
            "WHERE NOT (k % 97 = 0 AND l.gpu_index = 0) ORDER BY l.node, l.gpu, k",
            (days * 1440, f"{start:%Y-%m-%dT%H:%M}"),
        )
    return db.execute("SELECT COUNT(*) FROM gpu_minutes").fetchone()[0]


def best(fn, runs: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        began = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - began) * 1000)
    return round(min(times), 1), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--db", type=Path)
    args = ap.parse_args()
    path = args.db or Path(tempfile.mkdtemp()) / "burn.db"
    fresh = not path.exists()
    db = connect(path)
    began = time.perf_counter()
    rows = build(db, args.nodes, args.gpus, args.days) if fresh else None
    size = {"nodes": args.nodes, "gpus": args.gpus, "days": args.days, "gpu_minutes": rows}
    print(json.dumps({"built_s": round(time.perf_counter() - began, 1), **size}))
    prices = PriceBook()
    first = (END - timedelta(days=args.days)).date()
    ms, est = best(lambda: live_estimate(db, prices, first, END.date(), END))
    print(json.dumps({"live_estimate_ms": ms, **size, "estimate": est.to_dict()}))
    one = date.fromordinal(END.date().toordinal() - 1)
    ms, est = best(lambda: live_estimate(db, prices, one, one, END))
    print(json.dumps({"live_estimate_one_day_ms": ms, "nodes": est.nodes}))
    ms, est = best(lambda: live_estimate(db, prices, first, END.date(), END, lambda v: True))
    print(json.dumps({"live_estimate_with_keep_ms": ms}))
    ms, burn = best(lambda: burn_now(db, END, prices))
    print(json.dumps({"burn_now_ms": ms, "per_hour": round(burn.total_per_hour, 2)}))


if __name__ == "__main__":
    main()
