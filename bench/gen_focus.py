"""Generate a daily-grain FOCUS 1.0 file of N rows (CSV, CSV.gz or Parquet), fast and
deterministic, shaped like a real organisation: 200 projects, each on a few services,
regions and pricing categories, 20 teams, 100 owners, 30 accounts, 3 providers, and a
little EUR spend. ``--extras`` adds the FOCUS 1.2 columns the use-case library reads
(``extras_for``), leaving every other column's random draws as they are.
Usage: python bench/gen_focus.py ROWS OUT.{csv,csv.gz,parquet} [--days D] [--extras]
"""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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
# --extras: the FOCUS 1.2 columns, as the providers' exports fill them
SUBCATEGORY = {
    "Amazon Elastic Compute Cloud": "Virtual Machines",
    "Amazon Simple Storage Service": "Object Storage",
    "Amazon SageMaker": "Machine Learning",
    "AWS Data Transfer": "Network Connectivity",
    "Amazon Relational Database Service": "Relational Databases",
    "Amazon CloudWatch": "Observability",
    "Compute Engine": "Virtual Machines",
    "Cloud Storage": "Object Storage",
    "BigQuery": "Data Warehouses",
    "Vertex AI": "AI Platforms",
    "Virtual Machines": "Virtual Machines",
    "Storage": "Block Storage",
    "Azure Machine Learning": "Machine Learning",
    "Bandwidth": "Network Connectivity",
}
UNIT = {  # ConsumedUnit (and PricingUnit) by ServiceCategory
    "Compute": "vCPU-Hours",
    "Storage": "GB-Mo",
    "AI and Machine Learning": "Hours",
    "Networking": "GB",
    "Databases": "Hours",
    "Management and Governance": "Requests",
}
ZONED = ("Compute", "Databases", "AI and Machine Learning")  # the others carry no zone
ISSUER = {"AWS": "Amazon Web Services, Inc.", "Google Cloud": "Google", "Microsoft": "Microsoft"}
PUBLISHER = {"AWS": "Amazon Web Services, Inc.", "Google Cloud": "Google", "Microsoft": "Microsoft"}
RESELLER = "SoftwareOne AG"  # invoices the last RESOLD accounts instead of the provider
RESOLD = 3
VENDORS = {  # marketplace publishers, on ~2% of each provider's resources
    "AWS": ["Databricks, Inc.", "Snowflake Inc."],
    "Google Cloud": ["MongoDB, Inc."],
    "Microsoft": ["Datadog, Inc."],
}
VIRTUAL = "Credits"  # the virtual currency of ~1% of resources
CREDIT_PRICE = 2.0  # billing currency per credit
CATEGORIES = np.array(["Usage", "Credit", "Tax", "Purchase"])


def generate(
    rows: int,
    days: int = 120,
    end: date = date(2026, 11, 21),
    seed: int = 7,
    block_days: int = 30,
    extras: bool = False,
):
    """Yield tables of ``block_days`` days each; ``rows`` in all over ``days`` days;
    ``extras``: with the FOCUS 1.2 columns of ``extras_for``."""
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
    first = end - timedelta(days=days - 1)
    if extras:  # their own generator: the other columns' draws stay as without them
        fixed = Fixed(np.random.default_rng(seed + 1), project, per_resource, first, end)
        per_resource.update(fixed.columns)
    per_resource = {k: pa.array(v) for k, v in per_resource.items()}
    base_cost = rng.lognormal(1.0, 1.2, per_day)
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
        if extras:
            fixed.block(columns, cost, [first + timedelta(days=d) for d in block])
        yield pa.table(columns)


def _months(first: date, last: date) -> list[date]:
    out = [first.replace(day=1)]
    while out[-1] < last.replace(day=1):
        out.append((out[-1] + timedelta(days=31)).replace(day=1))
    return out


class Fixed:
    """The extra columns: fixed per resource (issuer, publisher, zone, pricing currency,
    capacity reservation), then per row in ``block`` (charge category, correction, billing
    period, invoice, the costs and prices that follow from them)."""

    def __init__(self, rng, project, per_resource: dict, first: date, end: date) -> None:
        self.rng, n = rng, len(project)
        provider, region = per_resource["ProviderName"], per_resource["RegionId"]
        category = per_resource["ServiceCategory"]
        self.account = project % 30
        vendor = rng.random(n) < 0.02
        pick = rng.integers(0, 2, n)
        publisher = [
            VENDORS[p][k % len(VENDORS[p])] if v else PUBLISHER[p]
            for p, v, k in zip(provider, vendor, pick, strict=True)
        ]
        zone = [
            (f"{r}{'abc'[k]}" if p == "AWS" else f"{r}-{'abc'[k] if p != 'Microsoft' else k + 1}")
            if c in ZONED
            else None
            for p, r, c, k in zip(provider, region, category, rng.integers(0, 3, n), strict=True)
        ]
        self.virtual = rng.random(n) < 0.01
        reserved = (category == "Compute") & (rng.random(n) < 0.05)
        slot = rng.integers(0, 2, n)
        unused = rng.random(n) < 0.2
        self.columns = {
            "BillingAccountName": np.array(["Example Org payer"] * n),
            "InvoiceIssuerName": np.array(
                [
                    RESELLER if a >= 30 - RESOLD else ISSUER[p]
                    for p, a in zip(provider, self.account, strict=True)
                ]
            ),
            "PublisherName": np.array(publisher),
            "ServiceSubcategory": np.array([SUBCATEGORY[s] for s in per_resource["ServiceName"]]),
            "AvailabilityZone": np.array(zone, dtype=object),
            "ConsumedUnit": np.array([UNIT[c] for c in category]),
            "PricingUnit": np.array([UNIT[c] for c in category]),
            "PricingCurrency": np.where(self.virtual, VIRTUAL, per_resource["BillingCurrency"]),
            "CapacityReservationId": np.array(
                [
                    f"cr-{a:02d}-{r}-{k}" if s else None
                    for a, r, k, s in zip(self.account, region, slot, reserved, strict=True)
                ],
                dtype=object,
            ),
            "CapacityReservationStatus": np.array(
                [
                    ("Unused" if u else "Used") if s else None
                    for u, s in zip(unused, reserved, strict=True)
                ],
                dtype=object,
            ),
        }
        self.months = _months(first, end + timedelta(days=31))
        self.last_month = len(_months(first, end)) - 1
        self.invoices = pa.array(
            [f"INV-{m:%Y%m}-acct-{a:02d}" for a in range(30) for m in self.months]
        )
        self.periods = pa.array([f"{m}T00:00:00Z" for m in self.months])
        self.period_ends = pa.array([f"{m}T00:00:00Z" for m in self.months[1:] + [None]])

    def block(self, columns: dict, cost: np.ndarray, days: list[date]) -> None:
        """Add the per-row columns of one block (``days``, each with every resource) to
        ``columns``, and make a few rows credits, taxes, purchases and corrections."""
        per_day = len(self.account)
        n = len(cost)
        day_idx = np.repeat(np.arange(len(days)), per_day)
        resource = np.tile(np.arange(per_day), len(days))
        month0 = self.months[0].year * 12 + self.months[0].month - 1
        month = np.array([d.year * 12 + d.month - 1 - month0 for d in days])[day_idx]
        u = self.rng.random(n)
        virtual = self.virtual[resource]
        code = np.where(u < 0.001, 1, np.where(u < 0.002, 2, 0))
        firsts = np.array([d.day == 1 for d in days])[day_idx]
        code = np.where(virtual & firsts, 3, code)  # credits bought on the 1st
        correction = (code == 0) & (month < self.last_month) & (u > 0.998)
        usage = code == 0
        billed = np.select(
            [code == 1, code == 2, code == 3, correction],
            [-0.3 * cost, 0.08 * cost, 30 * cost, -0.2 * cost],
            cost,
        )
        effective = np.where(usage, billed * 0.97, np.where(code == 3, 0.0, billed))
        listed = np.where(usage, billed * 1.1, billed)
        contracted = np.where(usage, billed * 1.02, billed)
        quantity = columns["ConsumedQuantity"].to_numpy(zero_copy_only=False)
        quantity = np.where(usage, quantity, np.nan)
        pricing_quantity = np.where(code == 3, billed / CREDIT_PRICE, quantity)
        rate = np.where(virtual, CREDIT_PRICE, 1.0)
        period = month + correction  # a correction lands in the next month's bill
        untied = pa.array((code == 1) | (code == 2))  # credits, taxes: of no resource or SKU
        for name in ("ResourceId", "SkuId", "AvailabilityZone", "CapacityReservationId",
                     "CapacityReservationStatus"):  # fmt: skip
            columns[name] = pc.if_else(untied, pa.scalar(None, pa.string()), columns[name])
        columns.update(
            {
                "BilledCost": pa.array(np.round(billed, 6)),
                "EffectiveCost": pa.array(np.round(effective, 6)),
                "ListCost": pa.array(np.round(listed, 6)),
                "ContractedCost": pa.array(np.round(contracted, 6)),
                "ConsumedQuantity": pa.array(quantity, from_pandas=True),
                "PricingQuantity": pa.array(np.round(pricing_quantity, 3), from_pandas=True),
                "ChargeCategory": pa.array(CATEGORIES).take(pa.array(code)),
                "ChargeClass": pa.array([None, "Correction"], pa.string()).take(
                    pa.array(correction.astype(np.int8))
                ),
                "BillingPeriodStart": self.periods.take(pa.array(period)),
                "BillingPeriodEnd": self.period_ends.take(pa.array(period)),
                "InvoiceId": self.invoices.take(
                    pa.array(self.account[resource] * len(self.months) + period)
                ),
                "PricingCurrencyEffectiveCost": pa.array(np.round(effective / rate, 6)),
                "PricingCurrencyListUnitPrice": pa.array(
                    np.round(listed / rate / pricing_quantity, 6), from_pandas=True
                ),
                "PricingCurrencyContractedUnitPrice": pa.array(
                    np.round(contracted / rate / pricing_quantity, 6), from_pandas=True
                ),
            }
        )


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
    parser.add_argument(
        "--extras", action="store_true", help="add the FOCUS 1.2 columns the library reads"
    )
    args = parser.parse_args()
    end = date.fromisoformat(args.end)
    write(generate(args.rows, args.days, end=end, extras=args.extras), args.out)


if __name__ == "__main__":
    main()
