"""Speed of the FOCUS use-case library (issue 19): every library question at 10M rows in
under 1 s (p95 per question), asked in process through Engine.ask over a cache imported
from a ``gen_focus.py --extras`` file (the FOCUS 1.2 columns the library reads).

    python bench/bench_library.py [--rows 10000000] [--runs 20] [--budget-s 10] [--fresh]
        [--import-rows 1000000] [--import-reps 3] [--work bench/out]

Builds (or reuses) bench/out/focus_{rows}_extras.parquet and its cache
library_{rows}_extras.db (re-imported with --fresh, or when the file is newer). Prints the
import of --import-rows with and without the columns (the same run's baseline, and the
rollups each writes), then per question: the answer kind, what the library read, the first
ask ("cold") and p50/p95 of the other runs, PASS/MISS against 1000 ms. Today is the data's
last day (gen_focus's --end).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path

from bench_import import import_once

from finops_bot.questions import Engine
from finops_bot.questions.library import BY_KIND, KINDS
from finops_bot.store import connect
from finops_bot.store import detail_reads as dr

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LAST_DAY = date(2026, 11, 21)  # gen_focus's default --end
TARGET_MS = 1000.0
# (expected kind, question): each entry's example with the generated data's names, then
# a subject, the whole organisation and a partial period ("this week": Mon 16 – Sat 21 Nov)
QUESTIONS = [
    ("billing_accounts", "which billing accounts and sub accounts do we have last month"),
    ("billing_accounts", "which billing accounts and sub accounts do we have this week"),
    ("billing_accounts", "billing accounts for aws last month"),
    ("billing_sources", "sources of billed cost last month"),
    ("billing_sources", "sources of billed cost this week"),
    ("billing_sources", "sources of billed cost for account acct-01 last month"),
    ("credits", "credits last month"),
    ("credits", "credits for aws last month"),
    ("credits", "credits this week"),
    ("taxes", "taxes last month"),
    ("taxes", "taxes for account acct-01 last month"),
    ("taxes", "taxes this week"),
    ("invoices", "invoices for october"),
    ("invoices", "reconcile invoices for october"),
    ("invoices", "invoices for account acct-01 for october"),
    ("invoices", "invoices this month"),
    ("corrections", "what changed in october's bill after it closed"),
    ("corrections", "corrections for october"),
    ("corrections", "corrections for account acct-01 for october"),
    ("corrections", "corrections this year"),
    ("subcategories", "cost by service subcategory last month"),
    ("subcategories", "compute by subcategory last month"),
    ("subcategories", "cost by service subcategory for project-007 this week"),
    ("zones", "cost by availability zone for account acct-01 last month"),
    ("zones", "cost by availability zone last month"),
    ("zones", "cost by availability zone this week"),
    ("marketplace", "marketplace spend last month"),
    ("marketplace", "cost by publisher last month"),
    ("marketplace", "marketplace spend for aws this week"),
    ("skus", "cost by sku for compute engine last month"),
    ("skus", "cost by sku last month"),
    ("skus", "cost by sku for project-007 this week"),
    ("skus", "cost by sku this week"),
    ("resources", "top resources for project-007 last month"),
    ("resources", "top resources last month"),
    ("resources", "top resources for compute engine this week"),
    ("resources", "top resources this week"),
    ("resources", "top resources this year"),
    ("resource_components", "cost of resource res-0000007 last month"),
    ("resource_components", "cost of resource res-0000007 this week"),
    ("resource_components", "cost of resource res-0000007 this year"),
    ("sku_meters", "metered costs for sku sku-7 last month"),
    ("sku_meters", "metered costs for sku sku-7 this week"),
    ("usage", "usage for compute engine last month"),
    ("usage", "how many vcpu-hours did we use last month"),
    ("usage", "usage for project-007 this week"),
    ("average_rate", "average cost per vcpu-hour last month"),
    ("average_rate", "average rate for compute engine last month"),
    ("average_rate", "average cost per gb-mo this week"),
    ("usage_history", "monthly usage and rates for compute engine this year"),
    ("usage_history", "monthly usage and rates this year"),
    ("usage_compare", "compare usage of compute engine last month vs the month before"),
    ("usage_compare", "compare usage last month vs the month before"),
    ("tag_coverage", "tag coverage for aws last month"),
    ("tag_coverage", "tag coverage for team last month"),
    ("tag_coverage", "tag coverage for env last month"),
    ("tag_coverage", "tag coverage for env this week"),
    ("pricing_currency", "effective cost by pricing currency last month"),
    ("pricing_currency", "effective cost by pricing currency for account acct-01 this week"),
    ("virtual_currency", "virtual currency used last month"),
    ("virtual_currency", "virtual currency used this week"),
    ("virtual_currency_targets", "what did we spend virtual currency on last month"),
    ("virtual_currency_targets", "what did we spend virtual currency on this year"),
    ("virtual_currency_purchases", "virtual currency purchases this year"),
    ("virtual_currency_purchases", "virtual currency purchases for aws this year"),
    ("virtual_currency_savings", "contracted savings by virtual currency last month"),
    ("virtual_currency_savings", "contracted savings by virtual currency this week"),
    ("capacity_reservations", "capacity reservations last month"),
    ("capacity_reservations", "capacity reservations for compute engine this week"),
    ("unused_capacity_reservations", "unused capacity reservations last month"),
    ("unused_capacity_reservations", "unused capacity reservations this week"),
    ("unsupported", "recurring commitment charges this year"),  # ChargeFrequency: not kept
    ("discount_accuracy", "verify discounts for october"),
    ("discount_accuracy", "discounts last month"),
    ("discount_accuracy", "discounts for project-007 this week"),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def generated(rows: int, work: Path, extras: bool) -> Path:
    """The generated file (made once; gen_focus is deterministic)."""
    path = work / f"focus_{rows}{'_extras' if extras else ''}.parquet"
    if not path.exists():
        flags = ["--extras"] if extras else []
        command = [sys.executable, str(HERE / "gen_focus.py"), str(rows), str(path), *flags]
        subprocess.run(command, check=True)
    return path


def rollups(db: Path) -> dict:
    """Row counts of the tables the library reads, and the cache's size."""
    conn = sqlite3.connect(db)
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    out = {
        table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("charges", "charge_extras", "daily_keys", "detail_days", "resource_months")
        if table in have
    }
    conn.close()
    size = sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists())
    return {**out, "db_mb": round(size / 1e6)}


def import_compare(rows: int, reps: int, work: Path) -> list[dict]:
    """The same rows imported with and without the extra columns, interleaved."""
    files = {False: generated(rows, work, False), True: generated(rows, work, True)}
    runs = []
    for rep in range(reps):
        for extras, path in files.items():
            db = work / f"library_{rows}_{'extras' if extras else 'base'}.db"
            run = {"bench": "import", "extras": extras, "rep": rep, **import_once(path, db)}
            run.update(rollups(db))
            print(json.dumps(run), flush=True)
            runs.append(run)
    return runs


def cache(rows: int, work: Path, fresh: bool) -> tuple[Path, dict | None]:
    """The imported cache of the --extras file, imported again when asked or stale."""
    path = generated(rows, work, True)
    db = work / f"library_{rows}_extras.db"
    if fresh or not db.exists() or db.stat().st_mtime < path.stat().st_mtime:
        run = {"bench": "import", "extras": True, **import_once(path, db)}
        run.update(rollups(db))
        print(json.dumps(run), flush=True)
        return db, run
    return db, None


def reads_of(engine: Engine, kind: str, answer) -> str:
    """What the library read for this answer (store.detail_reads' choice)."""
    use = BY_KIND.get(kind)  # (one form per kind: its reads follow from the registry)
    if use is None or answer.period is None:
        return "-"
    if use.build == "facts":
        whole = dr.whole_months(engine.db, answer.period.start, answer.period.end)
        return "resource_months" if whole else "charges (blocks)"
    if use.build == "coverage":
        tag = "tag_grouped" if "env" in answer.title else "daily_keys"
        return tag
    if use.billing or dr.whole_months(engine.db, answer.period.start, answer.period.end):
        return "detail_months"
    if any(name in dr.DETAIL_COLUMNS for name in use.equal):
        return "detail_days"
    return "detail_days+daily_keys"


def ask_all(db: Path, runs: int, today: date, budget_s: float) -> list[dict]:
    engine = Engine(connect(db))
    now = datetime.combine(today, clock(12), tzinfo=UTC)
    began = time.perf_counter()
    engine.view(None)  # names, freshness: once per cache version, not per question
    print(json.dumps({"bench": "engine_start", "ms": round((time.perf_counter() - began) * 1e3)}))
    results = []
    for expected, question in QUESTIONS:
        times, answer = [], None
        while len(times) < runs and (len(times) < 5 or sum(times) < budget_s * 1000):
            began = time.perf_counter()
            answer = engine.ask(question, today, now)
            times.append((time.perf_counter() - began) * 1000)
        warm = times[1:] or times
        line = {
            "bench": "library",
            "question": question,
            "expected": expected,
            "kind": answer.kind,
            "reads": reads_of(engine, answer.kind, answer),
            "period": f"{answer.period.start}..{answer.period.end}" if answer.period else "",
            "rows": len(answer.rows) + (answer.more_rows or 0) + len(answer.rates),
            "runs": len(times),
            "cold_ms": round(times[0], 1),
            "p50_ms": round(statistics.median(warm), 1),
            "p95_ms": round(percentile(warm, 0.95), 1),
        }
        line["verdict"] = "PASS" if line["p95_ms"] < TARGET_MS else "MISS"
        print(json.dumps(line), flush=True)
        results.append(line)
    return results


def header() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout

    return {
        "bench": "library_run",
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "src_changes_uncommitted": [
            line[3:] for line in git("status", "--short", "src").splitlines()
        ],
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def table(results: list[dict], imports: list[dict], big: dict | None, rows: int) -> None:
    if imports:
        print(f"\nimport of {imports[0]['rows']:,} rows (same run, interleaved)")
        print(f"{'file':<16} {'s (median)':>10} {'rows/s':>9} {'peak MB':>8} {'db MB':>6}"
              f" {'daily_keys':>10} {'detail_days':>11} {'resource_months':>15}"
              f" {'extras rows':>11}")  # fmt: skip
        for extras in (False, True):
            mine = [r for r in imports if r["extras"] is extras]
            secs = statistics.median(r["seconds"] for r in mine)
            last = mine[-1]
            print(
                f"{'with --extras' if extras else 'without':<16} {secs:>10.2f} "
                f"{round(last['rows'] / secs):>9,} {max(r['peak_rss_mb'] for r in mine):>8} "
                f"{last['db_mb']:>6} {last.get('daily_keys', 0):>10,} "
                f"{last.get('detail_days', 0):>11,} {last.get('resource_months', 0):>15,} "
                f"{last.get('charge_extras', 0):>11,}"
            )
        base = statistics.median(r["seconds"] for r in imports if not r["extras"])
        with_x = statistics.median(r["seconds"] for r in imports if r["extras"])
        print(f"cost of the columns and their rollups: {with_x / base:.2f}x")
    if big:
        print(f"\nimport of the {rows:,}-row --extras file: {big['seconds']} s "
              f"({big['rows_per_s']:,} rows/s, {big['peak_rss_mb']} MB peak), "
              f"detail_days {big.get('detail_days', 0):,} rows, "
              f"resource_months {big.get('resource_months', 0):,}, {big['db_mb']} MB")  # fmt: skip
    print(f"\n{'question':<66} {'kind':<28} {'reads':<22} {'cold':>7} {'p50 ms':>7}"
          f" {'p95 ms':>7} {'runs':>4}  <1s")  # fmt: skip
    for r in results:
        kind = r["kind"] if r["kind"] == r["expected"] else f"{r['kind']} (!{r['expected']})"
        print(
            f"{r['question']:<66} {kind:<28} {r['reads']:<22} {r['cold_ms']:>7.1f} "
            f"{r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['runs']:>4}  {r['verdict']}"
        )
    misses = [r for r in results if r["verdict"] == "MISS"]
    wrong = [r for r in results if r["kind"] != r["expected"]]
    print(f"\n{len(results) - len(misses)}/{len(results)} PASS (p95 < {TARGET_MS:.0f} ms); "
          f"{len(wrong)} answered as another kind than expected")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=20, help="asks per question (1st: cold)")
    parser.add_argument(
        "--budget-s", type=float, default=10.0, help="per question: stop after 5 runs past it"
    )
    parser.add_argument("--import-rows", type=int, default=1_000_000, help="0: skip")
    parser.add_argument("--import-reps", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="import the cache again")
    parser.add_argument("--today", type=date.fromisoformat, default=LAST_DAY)
    parser.add_argument("--work", type=Path, default=HERE / "out")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    missing = set(KINDS) - {kind for kind, _ in QUESTIONS} - {"recurring_commitment_charges"}
    if missing:
        print(json.dumps({"bench": "library", "kinds_not_asked": sorted(missing)}))
    print(json.dumps(header()), flush=True)
    imports = (
        import_compare(args.import_rows, args.import_reps, args.work) if args.import_rows else []
    )
    db, big = cache(args.rows, args.work, args.fresh)
    results = ask_all(db, args.runs, args.today, args.budget_s)
    table(results, imports, big, args.rows)


if __name__ == "__main__":
    main()
