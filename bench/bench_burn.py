"""The live burn over a synthetic fleet: live_estimate (heartbeats × price for the days
billing lacks, read from the gpu_node_days rollup) and burn_now (the fleet's $/h), on
N nodes × G GPUs × D days of minutes; and what keeping the rollup adds to storing a batch.

    python bench/bench_burn.py [--nodes 200] [--gpus 8] [--days 3] [--db PATH]

The minutes are written straight into gpu_latest / gpu_minutes in SQL (the heartbeat
endpoint would take minutes for millions of rows; bench_heartbeats.py measures that path):
every GPU reports every minute but one in 97 on its first GPU (gaps), labels as the agent
gives them; then gpu_node_days is rebuilt from them (rebuild_node_days, what m019 does).

Ingest: store_batches of the fleet's one-minute batches (one per node, G GPUs each), with
the rollup and without it (heartbeat._roll_up replaced by the bare write), in one group
commit and one batch per call: for the next minute of the last day (END is 06:00: a node-day
of 360 minutes to recount) and for a replaced minute of a full day (1,440 minutes).
Prints one JSON line per measurement (best of 5, ms).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from finops_bot.gpu import heartbeat
from finops_bot.gpu.burn import burn_now, live_estimate
from finops_bot.gpu.heartbeat import rebuild_node_days, store_batches, validate_batch
from finops_bot.gpu.prices import PriceBook
from finops_bot.store import connect

END = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
PROVIDERS = (("aws", "p4d.24xlarge"), ("gcp", "a2-highgpu-8g"), ("azure", "Standard_ND96asr_v4"))


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


def fleet_batches(nodes: int, gpus: int, end: datetime, tag: str) -> list[tuple[int, dict]]:
    """One validated one-minute batch per node (the nodes build() wrote), ending at ``end``."""
    items = []
    for i in range(nodes):
        provider, itype = PROVIDERS[i % 3]
        payload = {
            "schema": "finops.heartbeat/v1",
            "batch_id": f"bench-{tag}-{i:05d}",
            "node": {"hostname": f"node-{i}", "provider": provider, "instance_id": None,
                     "instance_type": itype, "region": "us-east-1", "spot": False},
            "labels": {"project": f"proj-{i % 17}", "owner": f"owner{i % 9}"},
            "window": {"start": (end - timedelta(minutes=1)).isoformat(),
                       "end": end.isoformat(), "samples": 6},
            "gpus": [
                {"index": j, "uuid": f"node-{i}-gpu{j}", "state": "ok",
                 "name": "NVIDIA A100-SXM4-40GB", "util": {"min": 50, "mean": 50, "max": 50},
                 "processes": []}
                for j in range(gpus)
            ],
        }  # fmt: skip
        items.append((1, validate_batch(payload)))
    return items


def ingest(db, nodes: int, gpus: int) -> None:
    """store_batches with and without the rollup, side by side (runs alternate)."""
    keep = heartbeat._roll_up

    def bare(conn, node_days, write) -> None:
        write()

    store_batches(db, fleet_batches(nodes, gpus, END, "warm"), END)  # binds the nodes
    cases = {
        "next_minute": lambda run: END + timedelta(minutes=run + 1),  # 361.. minutes that day
        "full_day": lambda run: END - timedelta(hours=6, minutes=run + 1),  # 23:59.. of a day
    }
    for case, minute in cases.items():
        for grouped in (True, False):
            times: dict[str, list[float]] = {"with": [], "without": []}
            for run in range(10):
                label = "with" if run % 2 == 0 else "without"
                heartbeat._roll_up = keep if label == "with" else bare
                items = fleet_batches(nodes, gpus, minute(run), f"{case}-{grouped}-{run}")
                groups = [items] if grouped else [[item] for item in items]
                began = time.perf_counter()
                for group in groups:
                    store_batches(db, group, END)
                times[label].append((time.perf_counter() - began) * 1000)
            heartbeat._roll_up = keep
            with_ms, without_ms = min(times["with"]), min(times["without"])
            print(
                json.dumps(
                    {
                        "store_batches": case,
                        "batches_per_call": nodes if grouped else 1,
                        "batches": nodes,
                        "with_rollup_ms": round(with_ms, 1),
                        "without_rollup_ms": round(without_ms, 1),
                        "added_us_per_batch": round((with_ms - without_ms) * 1000 / nodes),
                    }
                )
            )
    rebuild_node_days(db)  # the bare runs' minutes


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
    if fresh:
        began = time.perf_counter()
        rebuild_node_days(db)
        rollup = db.execute("SELECT COUNT(*) FROM gpu_node_days").fetchone()[0]
        print(json.dumps({"rollup_built_s": round(time.perf_counter() - began, 1),
                          "gpu_node_days": rollup}))  # fmt: skip
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
    ingest(db, args.nodes, args.gpus)


if __name__ == "__main__":
    main()
