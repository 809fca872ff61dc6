"""Forecast and budget speed over a large cache (default: the 10M-row cache bench_import.py
builds): forecasts for every project and every team, read per subject (one series read
each, the baseline) and per dimension (two index scans of the cube for all of them), side
by side in the same run; and one budget check (status: spend, forecast, driven_by, the
live estimate) per budget, p50 / p95 over --n runs.

    python bench/bench_budgets.py [--db bench/out/import_10000000_parquet.db] [--n 20]

Evaluated on the day after the cache's last charge day (its month's forecast). Prints one
JSON line per measurement. Targets (issue 17): every project and team ≤ 1 s; a budget
check ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from finops_bot.forecast import budgets
from finops_bot.forecast.budget_rules import parse_budgets, period_bounds
from finops_bot.forecast.service import forecast_dimension, forecast_where
from finops_bot.gpu.burn import live_estimate
from finops_bot.gpu.prices import PriceBook
from finops_bot.store import connect, reads
from finops_bot.store.reads import Where

HERE = Path(__file__).resolve().parent
MEASURE = "EffectiveCost"


def _timed(fn, n: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(n):
        began = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - began) * 1000)
    return times, out


def _line(**fields) -> None:
    print(json.dumps(fields), flush=True)


def _stats(times: list[float]) -> dict:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2)}


def every_subject(db, today: date, n: int) -> None:
    start, end = period_bounds("month", today)
    values = {dim: [v for d, v, _ in reads.names(db) if d == dim] for dim in ("project", "team")}
    count = sum(len(v) for v in values.values())

    def per_subject():
        return [
            forecast_where(db, Where.of({dim: [v]}), start, end, today, MEASURE, (dim, v))
            for dim, vs in values.items()
            for v in vs
        ]

    def per_dimension():
        return [forecast_dimension(db, d, start, end, today, MEASURE) for d in values]

    base, _ = _timed(per_subject, max(1, n // 5))
    fast, found = _timed(per_dimension, n)
    ok = sum(f.ok for by_dim in found for f in by_dim.values())
    _line(bench="forecast every project and team", subjects=count, forecasts_ok=ok,
          per_subject_baseline=_stats(base), per_dimension=_stats(fast))  # fmt: skip


def budget_checks(db, today: date, n: int) -> None:
    teams = [v for d, v, _ in reads.names(db) if d == "team" and v][:4]
    projects = [v for d, v, _ in reads.names(db) if d == "project" and v][:4]
    rules = parse_budgets(
        [{"name": "all", "amount": 1e9}]
        + [{"name": f"t{i}", "team": t, "amount": 1e6} for i, t in enumerate(teams)]
        + [{"name": f"p{i}", "project": p, "amount": 1e5} for i, p in enumerate(projects)]
        + [{"name": "q", "amount": 3e9, "period": "quarter"}]
    )
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)

    def live(start, end, keep):
        return live_estimate(db, PriceBook(), start, end, now, keep)

    for b in rules.budgets:
        times, s = _timed(lambda b=b: budgets.status(db, b, today, MEASURE, 1, live), n)
        _line(bench="budget check", budget=b.name, scope=b.scope, period=b.period,
              forecast=getattr(s.forecast, "total", None), driven_by=s.driven_by,
              **_stats(times))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=HERE / "out" / "import_10000000_parquet.db")
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    if not args.db.exists():
        raise SystemExit(f"{args.db} does not exist: build it with bench/bench_import.py")
    db = connect(args.db)
    rows = db.execute("SELECT COUNT(*) FROM charges").fetchone()[0]
    last = reads.data_span(db)[1]
    today = date.fromisoformat(last) + timedelta(days=1)
    _line(bench="cache", db=str(args.db), rows=rows, today=today.isoformat())
    every_subject(db, today, args.n)
    budget_checks(db, today, args.n)


if __name__ == "__main__":
    main()
