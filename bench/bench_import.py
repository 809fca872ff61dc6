"""Import speed and peak memory: FOCUS CSV and Parquet at 1M rows, and a 10M-row file,
against plain sqlite3.executemany of the same rows in one WAL transaction.

    python bench/bench_import.py [--rows 1000000] [--big 10000000] [--reps 3] [--work DIR]

Prints one JSON line per measurement, then a summary. Files are generated once into --work.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FACT_COLUMNS = (
    "id, day, key_id, resource_id, sku_id, billed_cost, effective_cost, list_cost, "
    "consumed_quantity, pricing_quantity, tags_id"
)


def ensure(rows: int, path: Path) -> Path:
    if not path.exists():
        subprocess.run(
            [sys.executable, str(HERE / "gen_focus.py"), str(rows), str(path)], check=True
        )
    return path


def import_once(path: Path, db: Path) -> dict:
    out = subprocess.run(
        [sys.executable, str(HERE / "_import_once.py"), str(path), str(db)],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def plain_executemany(db: Path, limit: int, work: Path) -> float:
    """rows/s of plain executemany of the rows the import stored, one WAL transaction."""
    rows = (
        sqlite3.connect(db)
        .execute(f"SELECT {FACT_COLUMNS} FROM charges LIMIT ?", (limit,))
        .fetchall()
    )
    target = work / "plain.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(target)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE charges (id INTEGER PRIMARY KEY, day INTEGER, key_id INTEGER, "
        "resource_id TEXT, sku_id TEXT, billed_cost REAL, effective_cost REAL, "
        "list_cost REAL, consumed_quantity REAL, pricing_quantity REAL, tags_id INTEGER)"
    )
    began = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO charges VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    return len(rows) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=10_000_000)
    parser.add_argument("--big-formats", default="parquet")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--work", type=Path, default=HERE / "out")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cases = [(args.rows, "parquet"), (args.rows, "csv")]
    if args.big:
        cases += [(args.big, fmt) for fmt in args.big_formats.split(",")]
    summary = []
    for rows, fmt in cases:
        path = ensure(rows, args.work / f"focus_{rows}.{fmt}")
        db = args.work / f"import_{rows}_{fmt}.db"
        reps = args.reps if rows <= args.rows else 1
        runs = [import_once(path, db) for _ in range(reps)]
        for run in runs:
            print(json.dumps({"bench": "import", "format": fmt, **run}))
        baseline = plain_executemany(db, rows, args.work)
        best = max(r["rows_per_s"] for r in runs)
        median = statistics.median(r["rows_per_s"] for r in runs)
        line = {
            "bench": "import-summary",
            "format": fmt,
            "rows": runs[0]["rows"],
            "median_rows_per_s": round(median),
            "best_rows_per_s": best,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "plain_executemany_rows_per_s": round(baseline),
            "ratio_to_plain": round(median / baseline, 2),
        }
        print(json.dumps(line))
        summary.append(line)
    print(
        "\nformat   rows        median rows/s  best rows/s  peak RSS MB  plain executemany  ratio"
    )
    for s in summary:
        print(
            f"{s['format']:<8} {s['rows']:<11,} {s['median_rows_per_s']:>13,} "
            f"{s['best_rows_per_s']:>12,} {s['peak_rss_mb']:>12} "
            f"{s['plain_executemany_rows_per_s']:>18,} {s['ratio_to_plain']:>6}"
        )


if __name__ == "__main__":
    main()
