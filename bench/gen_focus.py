"""Generate a daily-grain FOCUS 1.0 file of N rows (CSV, CSV.gz or Parquet), fast and
deterministic, shaped like a real organisation: 200 projects, each on a few services,
regions and pricing categories, 20 teams, 100 owners, 30 accounts, 3 providers, and a
little EUR spend. Usage: python bench/gen_focus.py ROWS OUT.{csv,csv.gz,parquet} [--days D]
"""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

SERVICES = [
    ("AWS", "Amazon Elastic Compute Cloud", "Compute"),
    ("AWS", "Amazon Simple Storage Service", "Storage"),
    ("AWS", "Amazon SageMaker", "AI and Machine Learning"),
    ("AWS", "AWS Data Transfer", "Networking"),
    ("AWS", "Amazon Relational Database Service", "Databases"),
    ("AWS", "Amazon CloudWatch", "Management and Governance"),
    ("Google Cloud", "Compute Engine", "Compute"),
    ("Google Cloud", "Cloud Storage", "Storage"),
    ("Google Cloud", "BigQuery", "Databases"),
    ("Google Cloud", "Vertex AI", "AI and Machine Learning"),
    ("Microsoft", "Virtual Machines", "Compute"),
    ("Microsoft", "Storage", "Storage"),
    ("Microsoft", "Azure Machine Learning", "AI and Machine Learning"),
    ("Microsoft", "Bandwidth", "Networking"),
]
REGIONS = {
    "AWS": ["us-east-1", "us-west-2", "eu-west-1"],
    "Google Cloud": ["us-central1", "europe-west4"],
    "Microsoft": ["eastus", "westeurope"],
}
PRICING = ["Standard", "Dynamic", "Committed"]


def generate(
    rows: int, days: int = 120, end: date = date(2026, 11, 21), seed: int = 7, block_days: int = 30
):
    """Yield tables of ``block_days`` days each; ``rows`` in all over ``days`` days."""
    rng = np.random.default_rng(seed)
    per_day = max(rows // days, 1)
    n_projects = 200
    # resources: each belongs to a project, which fixes team, owner, account, provider
    project = rng.integers(0, n_projects, per_day)
    provider_of_project = np.array(
        [["AWS", "Google Cloud", "Microsoft"][p % 3] for p in range(n_projects)]
    )
    provider = provider_of_project[project]
    svc_choices = {p: [i for i, s in enumerate(SERVICES) if s[0] == p] for p in REGIONS}
    # each project uses 4 services, 2 regions, 2 pricing categories
    proj_services = {
        p: rng.choice(svc_choices[provider_of_project[p]], 4, replace=False)
        for p in range(n_projects)
    }
    service_idx = np.array(
        [proj_services[p][k] for p, k in zip(project, rng.integers(0, 4, per_day), strict=False)]
    )
    region = np.array(
        [
            REGIONS[provider[i]][(project[i] + k) % len(REGIONS[provider[i]])]
            for i, k in enumerate(rng.integers(0, 2, per_day))
        ]
    )
    pricing = np.array(
        [PRICING[(project[i] + k) % 3] for i, k in enumerate(rng.integers(0, 2, per_day))]
    )
    svc = np.array(SERVICES, dtype=object)
    per_resource = {
        "BillingCurrency": np.where(project % 50 == 49, "EUR", "USD"),
        "ProviderName": provider,
        "BillingAccountId": np.array(["payer-1"] * per_day),
        "SubAccountId": np.array([f"acct-{p % 30:02d}" for p in project]),
        "SubAccountName": np.array([f"account {p % 30:02d}" for p in project]),
        "RegionId": region,
        "ServiceName": svc[service_idx, 1].astype(str),
        "ServiceCategory": svc[service_idx, 2].astype(str),
        "ChargeCategory": np.array(["Usage"] * per_day),
        "PricingCategory": pricing,
        "ResourceId": np.array([f"res-{i:07d}" for i in range(per_day)]),
        "ResourceType": np.array(["Instance"] * per_day),
        "SkuId": np.array([f"sku-{i % 500}" for i in range(per_day)]),
        "ConsumedUnit": np.array(["Hours"] * per_day),
        "Tags": np.array(
            [
                json.dumps(
                    {
                        "project": f"project-{p:03d}",
                        "team": f"team-{p // 10:02d}",
                        "owner": f"owner{p // 2:03d}@example.com",
                        "env": ["prod", "dev"][p % 2],
                    }
                )
                for p in project
            ]
        ),
    }
    per_resource = {k: pa.array(v) for k, v in per_resource.items()}
    base_cost = rng.lognormal(1.0, 1.2, per_day)
    first = end - timedelta(days=days - 1)
    for block_start in range(0, days, block_days):
        block = range(block_start, min(block_start + block_days, days))
        n = per_day * len(block)
        day_idx = np.repeat(np.arange(len(block)), per_day)
        take = pa.array(np.tile(np.arange(per_day), len(block)))
        starts = pa.array([f"{first + timedelta(days=d)}T00:00:00Z" for d in block])
        ends = pa.array([f"{first + timedelta(days=d + 1)}T00:00:00Z" for d in block])
        cost = np.tile(base_cost, len(block)) * rng.normal(1.0, 0.05, n)
        columns = {
            "ChargePeriodStart": starts.take(pa.array(day_idx)),
            "ChargePeriodEnd": ends.take(pa.array(day_idx)),
            "BilledCost": pa.array(np.round(cost, 6)),
            "EffectiveCost": pa.array(np.round(cost * 0.97, 6)),
            "ListCost": pa.array(np.round(cost * 1.1, 6)),
            "ConsumedQuantity": pa.array(np.round(rng.uniform(1, 24, n), 3)),
        }
        columns.update({k: v.take(take) for k, v in per_resource.items()})
        yield pa.table(columns)


def write(tables, path: str) -> None:
    writer = None
    out = pa.CompressedOutputStream(path, "gzip") if path.endswith(".gz") else path
    try:
        for table in tables:
            if writer is None:
                writer = (
                    pq.ParquetWriter(path, table.schema)
                    if path.endswith(".parquet")
                    else pacsv.CSVWriter(out, table.schema)
                )
            writer.write_table(table, row_group_size=262_144) if path.endswith(
                ".parquet"
            ) else writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
        if path.endswith(".gz"):
            out.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", type=int)
    parser.add_argument("out")
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--end", default="2026-11-21", help="last day, YYYY-MM-DD")
    args = parser.parse_args()
    write(generate(args.rows, args.days, end=date.fromisoformat(args.end)), args.out)


if __name__ == "__main__":
    main()
