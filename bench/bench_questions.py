"""Question latency, in process, over caches of 1M and 10M daily rows (built by
bench_import.py, or pass --db). p50/p95 per question kind, open and (side by side, in the
same run) under an access scope ([access] mode = "scoped"; default: one team's grant).

    python bench/bench_questions.py [--db bench/out/import_1000000_parquet.db ...] [--n 200]
        [--scope teams=team-07]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from datetime import UTC, date, datetime
from pathlib import Path

from finops_bot.access import scope_from_pairs
from finops_bot.questions import Engine
from finops_bot.store import connect

HERE = Path(__file__).resolve().parent
TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
QUESTIONS = {
    "subject cost (project, this week)": "what did project project-042 cost this week",
    "subject cost (team, last month)": "team team-07 last month",
    "subject cost (owner, last 30 days)": "owner owner021@example.com last 30 days",
    "subject cost (service, this month)": "service amazon elastic compute cloud this month",
    "total spend (this month)": "total spend this month",
    "top 10 projects (this month)": "top 10 projects this month",
    "top 5 services (last 90 days)": "top 5 services last 90 days",
    "by service (project, last 30 days)": "project-042 by service last 30 days",
    "by service (region, last month)": "region us-east-1 by service last month",
    "compare (project, month vs month)": "compare project-042 this month vs last month",
    "untagged (this month)": "untagged spend this month",
    "spot vs on-demand (team, last 30 days)": "spot vs on-demand for team team-07 last 30 days",
    "unknown name": "project project-9999 this week",
    "provider word (aws, last month)": "what did aws cost last month",
    "service category (storage, last month)": "storage costs last month",
    "breakdown (provider by region, last month)": "provider aws by region last month",
    "top 5 services of a provider (last month)": "top 5 services for provider aws last month",
    "owner by account (last 30 days)": "owner owner021@example.com by account last 30 days",
    "not understood": "what is the weather like in lisbon",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def timed(engine: Engine, question: str, n: int, scope=None) -> tuple[str, list[float]]:
    answer = engine.ask(question, TODAY, NOW, scope=scope)  # warm: names, the scope's view
    times = []
    for _ in range(n):
        began = time.perf_counter()
        engine.ask(question, TODAY, NOW, scope=scope)
        times.append((time.perf_counter() - began) * 1000)
    return answer.kind, times


def bench(db_path: Path, n: int, scope_pairs: list[str]) -> list[dict]:
    rows = sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM charges").fetchone()[0]
    engine = Engine(connect(db_path))
    scope = scope_from_pairs(scope_pairs)
    began = time.perf_counter()
    engine.view(scope)
    view_ms = (time.perf_counter() - began) * 1000
    print(json.dumps({"bench": "scope_view", "cache_rows": rows, "scope": scope.describe(),
                      "build_ms": round(view_ms, 1)}))  # fmt: skip
    results = []
    for kind, question in QUESTIONS.items():
        answer_kind, times = timed(engine, question, n)
        scoped_kind, scoped = timed(engine, question, n, scope)
        line = {
            "bench": "question",
            "cache_rows": rows,
            "kind": kind,
            "answer_kind": answer_kind,
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(percentile(times, 0.95), 2),
            "scope": scope.describe(),
            "scoped_answer_kind": scoped_kind,
            "scoped_p50_ms": round(statistics.median(scoped), 2),
            "scoped_p95_ms": round(percentile(scoped, 0.95), 2),
        }
        print(json.dumps(line))
        results.append(line)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--db",
        type=Path,
        nargs="*",
        default=[
            HERE / "out" / "import_1000000_parquet.db",
            HERE / "out" / "import_10000000_parquet.db",
        ],
    )
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--scope", action="append", default=None, metavar="KEY=NAMES")
    args = parser.parse_args()
    all_results = []
    for db in args.db:
        if db.exists():
            all_results += bench(db, args.n, args.scope or ["teams=team-07"])
        else:
            print(
                json.dumps(
                    {
                        "bench": "question",
                        "skipped": str(db),
                        "why": "run bench/bench_import.py first",
                    }
                )
            )
    print(
        f"\n{'question kind':<42} {'cache rows':>11} {'p50 ms':>8} {'p95 ms':>8}"
        f" {'scoped p50':>11} {'scoped p95':>11}  scoped answer"
    )
    for r in all_results:
        print(
            f"{r['kind']:<42} {r['cache_rows']:>11,} {r['p50_ms']:>8} {r['p95_ms']:>8}"
            f" {r['scoped_p50_ms']:>11} {r['scoped_p95_ms']:>11}  {r['scoped_answer_kind']}"
        )


if __name__ == "__main__":
    main()
