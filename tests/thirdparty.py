"""FOCUS files shaped like the public third-party generators' output (their shape only: no
data is copied). Two dialects:

- "minimal": Python csv quoting, empty cells for nulls, the FOCUS 1.3 column order, AWS
  ServiceName as CUR product codes (AmazonEC2), Azure as "Microsoft Azure", hourly compute,
  daily networking, whole-month storage rows; tax rows that copy the usage row's tags and
  ServiceCategory but have no ResourceId or PricingQuantity; commitment purchases with
  EffectiveCost 0; split rows whose AllocatedTags repeat a Tags key.
- "quoted": every string and the header double-quoted, bare NULL for nulls, an alphabetical
  header, four providers in one file (AWS, Microsoft, Google, Oracle), one-hour rows, float
  artefacts in costs, Allocated* columns filled with junk on every row, ChargeClass
  Correction, Adjustment and Credit rows, tax rows named "Tax".

Each generator returns the rows it wrote as dicts (None for null), so tests recompute every
total independently of the importer.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

V12 = [
    "ProviderName", "PublisherName", "InvoiceIssuerName", "InvoiceId", "BillingAccountId",
    "BillingAccountName", "BillingAccountType", "SubAccountId", "SubAccountName",
    "SubAccountType", "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart",
    "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice",
    "ContractedUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
    "PricingCurrency", "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice", "BillingCurrency", "ConsumedQuantity", "ConsumedUnit",
    "ServiceName", "ServiceCategory", "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceId",
    "SkuPriceDetails", "ResourceId", "ResourceName", "ResourceType", "RegionId", "RegionName",
    "AvailabilityZone", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountCategory", "CommitmentDiscountType", "CommitmentDiscountStatus",
    "CommitmentDiscountQuantity", "CommitmentDiscountUnit", "CapacityReservationId",
    "CapacityReservationStatus", "Tags",
]  # fmt: skip
V13_EXTRA = [
    "ServiceProviderName", "HostProviderName", "ContractApplied", "AllocatedMethodId",
    "AllocatedMethodDetails", "AllocatedResourceId", "AllocatedResourceName", "AllocatedTags",
]  # fmt: skip
CLOUDS = {
    # provider spelling, publisher, account id, sub accounts, services
    "aws": (
        "AWS",
        "AWS",
        "100000000001",
        ["200000000012", "200000000014"],
        [
            ("AmazonEC2", "Compute", "Virtual Machines", "hour", "Hours", 3.06),
            ("AmazonS3", "Storage", "Object Storage", "month", "GB-Months", 0.023),
            (
                "AmazonCloudWatch",
                "Management and Governance",
                "Observability",
                "day",
                "Metrics",
                0.3,
            ),
            ("AmazonVPC", "Networking", "Network Connectivity", "day", "Hours", 0.045),
        ],
    ),
    "azure": (
        "Microsoft Azure",
        "Microsoft",
        "8a2f7c1e-0000-4000-8000-00000000000a",
        ["2222aaaa-1111-4111-8111-111111111111"],
        [
            ("Virtual Machines", "Compute", "Virtual Machines", "hour", "Hours", 3.67),
            ("Azure Blob Storage", "Storage", "Object Storage", "month", "GB-Months", 0.0184),
            ("Virtual Network", "Networking", "Network Connectivity", "day", "Hours", 0.01),
        ],
    ),
    "gcp": (
        "Google Cloud",
        "Google",
        "01A2B3-C4D5E6-F70819",
        ["examplecorp-prod-481627", "examplecorp-staging-552831"],
        [
            ("Compute Engine", "Compute", "Virtual Machines", "hour", "Hours", 2.93),
            ("Cloud Storage", "Storage", "Object Storage", "month", "GiB-Months", 0.02),
            ("BigQuery", "Databases", "Data Warehouses", "day", "TiB", 6.25),
            ("Google Kubernetes Engine", "Compute", "Containers", "hour", "Hours", 0.1),
        ],
    ),
}
PROJECTS = ["bert-training", "llm-finetune", "vision-research", None]
PERIOD = datetime(2026, 5, 1, tzinfo=UTC)
NEXT_PERIOD = datetime(2026, 6, 1, tzinfo=UTC)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _tags(rng: random.Random, cloud: str) -> dict[str, str]:
    keys = ("environment", "cost-center", "owner") if cloud == "gcp" else (
        "Environment", "CostCenter", "Owner",
    )  # fmt: skip
    tags = {
        keys[0]: rng.choice(["prod", "staging", "dev"]),
        keys[1]: rng.choice(["cc-1042", "cc-2087", "cc-3110"]),
        keys[2]: rng.choice(["team-platform", "team-data", "team-payments"]),
    }
    project = rng.choice(PROJECTS)
    if project:
        tags["project"] = project
    return tags


def _usage(rng, cloud, service, when) -> dict:
    provider, publisher, account, subs, _ = CLOUDS[cloud]
    name, category, subcategory, grain, unit, price = service
    start = {"hour": when, "day": when.replace(hour=0), "month": PERIOD}[grain]
    end = {
        "hour": start + timedelta(hours=1),
        "day": start + timedelta(days=1),
        "month": NEXT_PERIOD,
    }[grain]
    qty = round(rng.uniform(0.5, 900.0 if grain == "month" else 24.0), 4)
    billed = qty * price
    sub = rng.choice(subs)
    resource = {
        "aws": f"arn:aws:ec2:us-west-2:{sub}:instance/i-{rng.randrange(16**12):012x}",
        "azure": f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/"
        f"virtualMachines/vm-{rng.randrange(99)}",
        "gcp": f"//compute.googleapis.com/projects/{sub}/zones/us-central1-a/instances/"
        f"n-{rng.randrange(99)}",
    }[cloud]
    return {
        "ProviderName": provider,
        "PublisherName": publisher,
        "InvoiceIssuerName": provider,
        "InvoiceId": "INV-2026-05-0002",
        "BillingAccountId": account,
        "BillingAccountName": f"{cloud} billing",
        "BillingAccountType": "Billing Account",
        "SubAccountId": sub,
        "SubAccountName": f"{sub}-name",
        "SubAccountType": "Project",
        "BillingPeriodStart": _stamp(PERIOD),
        "BillingPeriodEnd": _stamp(NEXT_PERIOD),
        "ChargePeriodStart": _stamp(start),
        "ChargePeriodEnd": _stamp(end),
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": f"{name} usage",
        "ChargeFrequency": "Usage-Based",
        "BilledCost": repr(billed),
        "EffectiveCost": repr(billed),
        "ListCost": repr(billed * 1.1),
        "ContractedCost": repr(billed),
        "ListUnitPrice": f"{price * 1.1:.10f}",
        "ContractedUnitPrice": f"{price:.10f}",
        "PricingCategory": "Standard",
        "PricingQuantity": f"{qty:.4f}",
        "PricingUnit": unit,
        "PricingCurrency": "USD",
        "PricingCurrencyContractedUnitPrice": f"{price:.10f}",
        "PricingCurrencyEffectiveCost": repr(billed),
        "PricingCurrencyListUnitPrice": f"{price * 1.1:.10f}",
        "BillingCurrency": "USD",
        "ConsumedQuantity": f"{qty:.4f}",
        "ConsumedUnit": unit,
        "ServiceName": name,
        "ServiceCategory": category,
        "ServiceSubcategory": subcategory,
        "SkuId": f"sku-{name[:4]}",
        "SkuMeter": "Usage",
        "SkuPriceId": f"price-{name[:4]}",
        "SkuPriceDetails": None,
        "ResourceId": resource,
        "ResourceName": resource.rsplit("/", 1)[-1],
        "ResourceType": "Instance" if category == "Compute" else name,
        "RegionId": "us-west-2",
        "RegionName": "US West (Oregon)",
        "AvailabilityZone": "us-west-2a",
        "Tags": json.dumps(_tags(rng, cloud), separators=(",", ":")),
        "ServiceProviderName": provider,
        "HostProviderName": provider,
    }


def _tax(source: dict) -> dict:
    """A tax row copies the usage row's identity, service and Tags; no resource, no
    PricingQuantity, no pricing category."""
    row = {k: source[k] for k in source if not k.startswith("_")}
    for k in (
        "ResourceId", "ResourceName", "ResourceType", "RegionId", "RegionName",
        "AvailabilityZone", "SkuId", "SkuMeter", "SkuPriceId", "ListUnitPrice",
        "ContractedUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
        "ConsumedQuantity", "ConsumedUnit", "PricingCurrencyListUnitPrice",
        "PricingCurrencyContractedUnitPrice",
    ):  # fmt: skip
        row[k] = None
    for k in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        row[k] = repr(float(source[k]) * 0.1)
    row.update(ChargeCategory="Tax", ChargeFrequency="One-Time", ChargeDescription="tax 10%")
    return row


def _purchase(rng, cloud, when) -> dict:
    row = _usage(rng, cloud, CLOUDS[cloud][4][0], when)
    amount = round(rng.uniform(100, 900), 2)
    row.update(
        ChargeCategory="Purchase",
        ChargeFrequency="Recurring",
        BilledCost=repr(amount),
        EffectiveCost="0",
        ListCost=repr(amount),
        ContractedCost=repr(amount),
        PricingCategory="Committed",
        CommitmentDiscountType="Savings Plan",
        CommitmentDiscountCategory="Spend",
        ConsumedQuantity=None,
        ConsumedUnit=None,
    )
    return row


def minimal_rows(cloud: str, n: int = 400, seed: int = 1302, version: str = "1.3") -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []
    services = CLOUDS[cloud][4]
    for i in range(n):
        when = PERIOD + timedelta(hours=i % (28 * 24))
        roll = rng.random()
        untaxed = [r for r in rows if r["ChargeCategory"] == "Usage" and not r.get("_taxed")]
        if roll < 0.12 and untaxed:  # a tax row for an earlier usage row not taxed yet
            source = rng.choice(untaxed)
            source["_taxed"] = True
            rows.append(_tax(source))
        elif roll < 0.16:
            rows.append(_purchase(rng, cloud, when))
        elif roll < 0.26 and version == "1.3":
            row = _usage(rng, cloud, services[0], when)
            tags = json.loads(row["Tags"])
            cost_center = next(k for k in tags if k.lower().replace("-", "") == "costcenter")
            split = {"workload": "search", cost_center: "cc-9999", "project": "search-api"}
            row.update(
                AllocatedMethodId="split-even",
                AllocatedMethodDetails=json.dumps({"Elements": [{"AllocatedRatio": 1}]}),
                AllocatedResourceId=f"{row['ResourceId']}/workloads/search",
                AllocatedResourceName="workload-search",
                AllocatedTags=json.dumps(split, separators=(",", ":")),
            )
            rows.append(row)
        else:
            rows.append(_usage(rng, cloud, rng.choice(services), when))
    return rows


def write_minimal(path: Path, rows: list[dict], version: str = "1.3") -> Path:
    columns = V12 + (V13_EXTRA if version == "1.3" else [])
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    return path


def quoted_rows(n: int = 300, seed: int = 4) -> list[dict]:
    """Four providers, one-hour rows, float artefacts, Adjustment/Credit/Correction, Tax
    rows named "Tax" (with Tags), Allocated* junk on every row."""
    rng = random.Random(seed)
    providers = [
        ("AWS", "Amazon Elastic Compute Cloud", "Compute"),
        ("Microsoft", "Virtual Machines", "Compute"),
        ("Google", "Compute Engine", "Compute"),
        ("Oracle", "Oracle Object Storage", "Storage"),
    ]
    rows = []
    for i in range(n):
        provider, service, category = providers[i % 4]
        when = datetime(2024, 9, 1, tzinfo=UTC) + timedelta(hours=i)
        charge = rng.choices(
            ["Usage", "Purchase", "Tax", "Credit", "Adjustment"], [80, 8, 4, 4, 4]
        )[0]
        cost = rng.uniform(0.01, 500) * rng.uniform(0.0001, 5)
        billed = -cost if charge == "Credit" else cost
        row = {
            "AllocatedMethodId": f"AllocatedMethodId-{rng.randrange(9999)}",
            "AllocatedResourceId": f"AllocatedResourceId-{rng.randrange(9999)}",
            "AllocatedResourceName": f"AllocatedResourceName-{rng.randrange(9999)}",
            "AllocatedTags": "{}",
            "BilledCost": repr(billed * 1.0000000000000002),
            "BillingAccountId": f"{provider.lower()}-acct-1",
            "BillingAccountName": f"{provider} account",
            "BillingCurrency": "USD",
            "BillingPeriodStart": "2024-09-01T00:00:00Z",
            "BillingPeriodEnd": "2024-10-01T00:00:00Z",
            "ChargeCategory": charge,
            "ChargeClass": "Correction" if rng.random() < 0.03 else None,
            "ChargePeriodStart": _stamp(when),
            "ChargePeriodEnd": _stamp(when + timedelta(hours=1)),
            "EffectiveCost": "0" if charge == "Purchase" else repr(billed * 0.8),
            "HostProviderName": provider,
            "InvoiceIssuerName": provider,
            "ListCost": repr(abs(billed) * 1.2),
            "PricingQuantity": None if charge == "Tax" else repr(round(rng.uniform(0.01, 500), 2)),
            "ProviderName": provider,
            "PublisherName": provider,
            "ResourceId": None if charge == "Tax" else f"res-{provider}-{i % 7}",
            "ServiceCategory": "Other" if charge == "Tax" else category,
            "ServiceName": "Tax" if charge == "Tax" else service,
            "ServiceProviderName": provider,
            "SubAccountId": f"{provider.lower()}-sub-{i % 2}",
            "Tags": None
            if rng.random() < 0.2
            else json.dumps({"team": rng.choice(["growth", "core"]), "owner": "a.turing"}),
        }
        rows.append(row)
    return rows


def write_quoted(path: Path, rows: list[dict]) -> Path:
    columns = sorted(rows[0])
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(f'"{c}"' for c in columns) + "\n")
        for row in rows:
            cells = []
            for c in columns:
                v = row.get(c)
                if v is None:
                    cells.append("NULL")
                elif c in ("BilledCost", "EffectiveCost", "ListCost", "PricingQuantity"):
                    cells.append(v)
                else:
                    cells.append('"' + str(v).replace('"', '""') + '"')
            fh.write(",".join(cells) + "\n")
    return path


CONTRACT_COMMITMENT_COLUMNS = [
    "ContractCommitmentId", "ContractCommitmentType", "ContractCommitmentCategory",
    "ContractCommitmentCost", "ContractCommitmentQuantity", "ContractCommitmentUnit",
    "ContractCommitmentDescription", "ContractCommitmentPeriodStart",
    "ContractCommitmentPeriodEnd", "ContractId", "ContractPeriodStart", "ContractPeriodEnd",
    "BillingCurrency",
]  # fmt: skip


def write_contract_commitment(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CONTRACT_COMMITMENT_COLUMNS)
        writer.writerow(
            ["CC-EA-SPEND-0001", "Enterprise Agreement Minimum Spend", "Spend", "250000", "",
             "", "minimum spend", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
             "CONTRACT-EA-2026-0001", "2026-01-01T00:00:00Z", "2029-01-01T00:00:00Z", "USD"]
        )  # fmt: skip
    return path


def total(rows: list[dict], column: str, **where) -> float:
    """An independent sum over the generated rows."""
    out = 0.0
    for row in rows:
        if all(row.get(k) == v for k, v in where.items()) and row.get(column) is not None:
            out += float(row[column])
    return out
