"""Billing-source sync figures.

1. Export sync from S3 (moto, in process): one billing month (November 2026, 1M daily FOCUS
   rows, Parquet) in a Data Export layout, synced the way `python -m bot sync` does it,
   against importing the same file from disk.
2. Cost Explorer requests for 90 days x 200 projects (x 5 services): a backfill
   (`sync --since`) and a routine 6-hourly sync, counted against moto with results split
   into pages of --groups-per-page groups (AWS does not document its page size).

    python bench/bench_sync.py [--rows 1000000] [--groups-per-page 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent


def fresh_db(path: Path):
    from finops_bot.store import connect

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return connect(path)


def export_sync(rows: int, work: Path) -> dict:
    import boto3
    from moto import mock_aws

    from finops_bot.ingest.importer import import_file
    from finops_bot.ingest.tags import TagRules
    from finops_bot.sources.aws_s3_export import AwsS3Export
    from finops_bot.sources.sync import sync_source

    path = work / f"focus_nov_{rows}.parquet"
    if not path.exists():
        subprocess.run(
            [
                sys.executable,
                str(HERE / "gen_focus.py"),
                str(rows),
                str(path),
                "--days",
                "30",
                "--end",
                "2026-11-30",
            ],
            check=True,
        )
    rules = TagRules({"project": ("project",), "team": ("team",), "owner": ("owner",)})
    now = datetime.now(UTC)
    db = fresh_db(work / "bench_file.db")
    began = time.perf_counter()
    report = import_file(db, path, rules=rules, now=now)
    file_seconds = time.perf_counter() - began
    db.close()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench-exports")
        key = "exports/focus/data/BILLING_PERIOD=2026-11/focus-00001.snappy.parquet"
        s3.upload_file(str(path), "bench-exports", key)
        s3.put_object(
            Bucket="bench-exports",
            Key="exports/focus/metadata/BILLING_PERIOD=2026-11/focus-Manifest.json",
            Body=json.dumps({"dataFiles": [f"s3://bench-exports/{key}"]}).encode(),
        )
        source = AwsS3Export(
            "bench", lambda: boto3.Session(region_name="us-east-1"), "bench-exports", "exports"
        )
        db = fresh_db(work / "bench_sync.db")
        began = time.perf_counter()
        result = sync_source(db, source, today=date(2026, 12, 2), now=now, rules=rules)
        sync_seconds = time.perf_counter() - began
        assert result.ok, result.error
        began = time.perf_counter()
        again = sync_source(db, source, today=date(2026, 12, 2), now=now, rules=rules)
        unchanged_seconds = time.perf_counter() - began
    file_rate = report.result.rows_read / file_seconds
    sync_rate = result.rows / sync_seconds
    return {
        "bench": "export-sync",
        "rows": result.rows,
        "file_import_rows_per_s": round(file_rate),
        "s3_sync_rows_per_s": round(sync_rate),
        "sync_vs_file": round(sync_rate / file_rate, 2),
        "unchanged_resync_s": round(unchanged_seconds, 3),
        "unchanged_months": len(again.unchanged),
        "api_calls": result.api_calls,
    }


def ce_requests(groups_per_page: int) -> list[dict]:
    import boto3
    import requests
    from moto import mock_aws

    from finops_bot.ingest.tags import TagRules
    from finops_bot.sources.aws_ce import AwsCostExplorer
    from finops_bot.sources.sync import sync_source
    from finops_bot.sources.windows import sync_windows

    services = [
        "Amazon Elastic Compute Cloud",
        "Amazon Simple Storage Service",
        "Amazon SageMaker",
        "AWS Data Transfer",
        "Amazon CloudWatch",
    ]
    today = date(2026, 11, 22)
    out = []
    rules = TagRules({"project": ("project",)})
    for label, since, refresh in (
        ("backfill 90 days", today - timedelta(days=90), 5),
        ("routine sync (refresh window)", None, 5),
    ):
        windows = sync_windows(today, refresh, since)
        with mock_aws():
            pages_total = 0
            for w in windows:
                days = [w.start + timedelta(days=i) for i in range(w.days)]
                groups = [(d, p, s) for d in days for p in range(200) for s in services]
                pages = [
                    groups[i : i + groups_per_page] for i in range(0, len(groups), groups_per_page)
                ] or [[]]
                results = []
                for n, chunk in enumerate(pages):
                    by_day: dict = {}
                    for d, p, s in chunk:
                        by_day.setdefault(d, []).append(
                            {
                                "Keys": [f"project$project-{p:03d}", s],
                                "Metrics": {
                                    "AmortizedCost": {"Amount": "1.0", "Unit": "USD"},
                                    "UnblendedCost": {"Amount": "1.0", "Unit": "USD"},
                                },
                            }
                        )
                    body = {
                        "ResultsByTime": [
                            {
                                "TimePeriod": {"Start": str(d), "End": str(d + timedelta(days=1))},
                                "Groups": g,
                                "Total": {},
                                "Estimated": False,
                            }
                            for d, g in by_day.items()
                        ]
                    }
                    if n < len(pages) - 1:
                        body["NextPageToken"] = f"page-{n + 1}"
                    results.append(body)
                # the window's second query: charges that are not usage, by RECORD_TYPE
                # and SERVICE (a tax and a credit a day: one page)
                results.append(
                    {
                        "ResultsByTime": [
                            {
                                "TimePeriod": {"Start": str(d), "End": str(d + timedelta(days=1))},
                                "Groups": [
                                    {
                                        "Keys": [kind, service],
                                        "Metrics": {
                                            "AmortizedCost": {"Amount": amount, "Unit": "USD"},
                                            "UnblendedCost": {"Amount": amount, "Unit": "USD"},
                                        },
                                    }
                                    for kind, service, amount in (
                                        ("Tax", "Tax", "3.0"),
                                        ("Credit", services[0], "-1.0"),
                                    )
                                ],
                                "Total": {},
                                "Estimated": False,
                            }
                            for d in days
                        ]
                    }
                )
                pages_total += len(pages) + 1
                requests.post(
                    "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
                    json={"results": results},
                )
            os.environ.update(AWS_ACCESS_KEY_ID="b", AWS_SECRET_ACCESS_KEY="b")
            db = fresh_db(HERE / "out" / "bench_ce.db")
            source = AwsCostExplorer("ce", lambda: boto3.Session(region_name="us-east-1"))
            result = sync_source(
                db, source, today=today, now=datetime.now(UTC), rules=rules, since=since
            )
            assert result.ok, result.error
            out.append(
                {
                    "bench": "cost-explorer-requests",
                    "case": label,
                    "windows": len(windows),
                    "groups_per_page": groups_per_page,
                    "requests": result.api_calls,
                    "usd": round(result.api_calls * 0.01, 2),
                    "rows": result.rows,
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--groups-per-page", type=int, default=1000)
    args = parser.parse_args()
    work = HERE / "out"
    work.mkdir(exist_ok=True)
    print(json.dumps(export_sync(args.rows, work)), flush=True)
    for line in ce_requests(args.groups_per_page):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
