"""GPU charges at import: CUR, FOCUS (AWS, GCP, Azure rows) and Azure cost-details files
shaped like real exports, with GPU-hours and GPU spend per model checked against a
computation over the raw file itself (csv / pyarrow, a GPU table of the test's own)."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from finops_bot.ingest.importer import import_file
from finops_bot.store import reads
from finops_bot.store.reads import Where
from tests.conftest import NOW

NOV = (date(2026, 11, 1), date(2026, 11, 30))
# the test's own table: instance type → (model, GPUs)
GPUS = {
    "p4d.24xlarge": ("A100", 8),
    "p5.48xlarge": ("H100", 8),
    "p3.2xlarge": ("V100", 1),
    "g5.xlarge": ("A10G", 1),
    "a2-highgpu-8g": ("A100", 8),
    "Standard_ND96asr_v4": ("A100", 8),
    "Standard_NC24ads_A100_v4": ("A100 80GB", 1),
    "Standard_NV6ads_A10_v5": ("A10", 1 / 6),
}


def _hours(day: int, hour: int) -> tuple[str, str]:
    start = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=day, hours=hour)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return start.strftime(fmt), (start + timedelta(hours=1)).strftime(fmt)


CUR_COLUMNS = [
    "identity/LineItemId", "bill/PayerAccountId", "bill/BillingPeriodStartDate",
    "lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate",
    "lineItem/UsageEndDate", "lineItem/ProductCode", "lineItem/UsageType",
    "lineItem/Operation", "lineItem/ResourceId", "lineItem/UsageAmount",
    "lineItem/CurrencyCode", "lineItem/UnblendedCost", "product/ProductName",
    "product/instanceType", "product/region", "product/productFamily", "pricing/unit",
    "reservation/EffectiveCost", "resourceTags/user:Team",
]  # fmt: skip
# (line item type, usage type, instance type, unit, amount, cost per hour, team)
CUR_LINES = [
    ("Usage", "USE1-BoxUsage:p4d.24xlarge", "p4d.24xlarge", "Hrs", 1.0, 32.7726, "nlp"),
    ("Usage", "USW2-SpotUsage:p5.48xlarge", "p5.48xlarge", "Hrs", 0.75, 12.1, "vision"),
    ("DiscountedUsage", "BoxUsage:p4d.24xlarge", "p4d.24xlarge", "Hrs", 1.0, 0.0, "nlp"),
    ("Usage", "EBSOptimized:p3.2xlarge", "p3.2xlarge", "Hrs", 1.0, 0.05, "speech"),
    ("Usage", "BoxUsage:p3.2xlarge", "p3.2xlarge", "Hrs", 1.0, 3.06, "speech"),
    ("Usage", "USE1-BoxUsage:g5.xlarge", "g5.xlarge", "Hrs", 1.0, 1.006, ""),
    ("Usage", "BoxUsage:m5.large", "m5.large", "Hrs", 1.0, 0.096, "web"),
    ("Usage", "USE1-EBS:VolumeUsage.gp3", "", "GB-Mo", 0.11, 0.0088, "web"),
]  # fmt: skip


def write_cur(path: Path, days: int = 3) -> Path:
    rng = random.Random(7)
    rows = []
    for day in range(days):
        for hour in range(24):
            start, end = _hours(day, hour)
            for kind, usage, itype, unit, amount, cost, team in CUR_LINES:
                if kind == "Usage" and "Spot" in usage and rng.random() < 0.2:
                    continue  # Spot capacity comes and goes
                rows.append([
                    f"li-{len(rows)}", "123412340534", "2026-11-01T00:00:00Z", "222233334444",
                    kind, start, end, "AmazonEC2", usage, "RunInstances",
                    f"i-{abs(hash(usage)) % 10_000:04d}" if itype else "vol-1",
                    amount if "Spot" not in usage else round(amount * rng.uniform(0.5, 1), 4),
                    "USD", cost * (1 if "Spot" not in usage else rng.uniform(0.8, 1.2)),
                    "Amazon Elastic Compute Cloud", itype, "us-east-1",
                    "Compute Instance" if itype else "Storage", unit,
                    20.1 if kind == "DiscountedUsage" else "", team,
                ])  # fmt: skip
        # one reservation fee a day: a purchase, GPU spend, no GPU-hours
        rows.append([f"fee-{day}", "123412340534", "2026-11-01T00:00:00Z", "222233334444",
                     "RIFee", _hours(day, 0)[0], _hours(day, 23)[1], "AmazonEC2",
                     "HeavyUsage:p3.2xlarge", "RunInstances", "", 24, "USD", 50.0,
                     "Amazon Elastic Compute Cloud", "p3.2xlarge", "us-east-1",
                     "Compute Instance", "Hrs", "", ""])  # fmt: skip
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CUR_COLUMNS)
        writer.writerows(rows)
    return path


def _cur_expected(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    """(GPU-hours, unblended cost) per model, from the CSV itself."""
    hours: dict[str, float] = defaultdict(float)
    spend: dict[str, float] = defaultdict(float)
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            itype = r["product/instanceType"]
            if itype not in GPUS:
                continue
            model, gpus = GPUS[itype]
            spend[model] += float(r["lineItem/UnblendedCost"])
            operation = r["lineItem/UsageType"].split(":")[0].split("-")[-1]
            usage = r["lineItem/LineItemType"] in ("Usage", "DiscountedUsage")
            if usage and operation in ("BoxUsage", "SpotUsage") and r["pricing/unit"] == "Hrs":
                hours[model] += float(r["lineItem/UsageAmount"]) * gpus
    return dict(hours), dict(spend)


def _by(db, dim: str, measure: str, where: Where | None = None) -> dict[str, float]:
    rows = reads.grouped(db, where or Where(), dim, *NOV, measure)
    if measure == "GPUHours":
        assert {currency for _, currency, _ in rows} <= {""}
    return {value: total for value, _, total in rows}


def _approx(d: dict[str, float]):
    return pytest.approx(d, rel=1e-9, abs=1e-9)


def test_cur_gpu_hours_and_spend_per_model(db, rules, tmp_path):
    path = write_cur(tmp_path / "cur.csv")
    report = import_file(db, path, rules=rules, now=NOW)
    hours, spend = _cur_expected(path)
    assert _by(db, "gpu", "GPUHours") == _approx(hours)
    assert _by(db, "gpu", "BilledCost") == _approx(spend)
    assert report.result.gpu_hours == pytest.approx(sum(hours.values()))
    # one term from the cube, two through the combinations: the same GPU-hours
    a100 = reads.totals(db, Where.of({"gpu": ["A100"]}), *NOV, "GPUHours")
    assert a100 == {"": pytest.approx(hours["A100"])}
    both = Where.of({"gpu": ["A100"], "team": ["nlp"]})
    assert reads.totals(db, both, *NOV, "GPUHours") == {"": pytest.approx(hours["A100"])}
    days = reads.series(db, Where.of({"instance": ["p5.48xlarge"]}), *NOV, "GPUHours")
    assert sum(t for _, _, t in days) == pytest.approx(hours["H100"]) and len(days) == 3
    # instance types of every kind, GPU or not; GPU-hours only where there are some
    instances = _by(db, "instance", "BilledCost")
    assert set(instances) == {"p4d.24xlarge", "p5.48xlarge", "p3.2xlarge", "g5.xlarge", "m5.large"}
    assert set(_by(db, "instance", "GPUHours")) == {"p4d.24xlarge", "p5.48xlarge", "p3.2xlarge",
                                                    "g5.xlarge"}  # fmt: skip
    by_team = _by(db, "team", "GPUHours", Where.of({"gpu": ["A100", "H100"]}))
    assert by_team == _approx({"nlp": hours["A100"], "vision": hours["H100"]})
    assert reads.gpu_models(db) == ["A100", "A10G", "H100", "V100"]
    names = {(d, k) for d, k, _ in reads.names(db)}
    assert {("gpu", "H100"), ("instance", "p4d.24xlarge")} <= names


def test_the_public_cur_parquet_names_its_instance_types(db, rules, shared_fixtures):
    path = shared_fixtures / "aws/cur/wa_labs_WorkshopCUR_2018-10.snappy.parquet"
    import_file(db, path, rules=rules, now=NOW)
    columns = ["product_instance_type", "line_item_usage_type", "line_item_unblended_cost"]
    table = pq.read_table(path, columns=columns)
    expected: dict[str, float] = defaultdict(float)
    for itype, usage, cost in zip(*(c.to_pylist() for c in table.columns), strict=True):
        # Spot usage and reservation fees name their instance type in the usage type only
        operation, _, suffix = (usage or "").partition(":")
        if not itype and operation in ("SpotUsage", "HeavyUsage", "BoxUsage"):
            itype = suffix
        if itype and cost is not None:
            expected[itype] += cost
    october = (date(2018, 10, 1), date(2018, 10, 31))
    rows = reads.grouped(db, Where(), "instance", *october, "BilledCost")
    assert {v: t for v, _, t in rows} == _approx(dict(expected))
    assert reads.gpu_models(db) == []  # t2, c5, m5, db.r4 …: no GPUs
    assert reads.totals(db, Where(), *october, "GPUHours") == {}


FOCUS_COLUMNS = [
    "ProviderName", "BillingAccountId", "SubAccountId", "BillingPeriodStart",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeDescription",
    "BilledCost", "EffectiveCost", "ListCost", "BillingCurrency", "ConsumedQuantity",
    "ConsumedUnit", "PricingQuantity", "PricingUnit", "ServiceName", "ServiceCategory",
    "ResourceId", "ResourceType", "SkuId", "SkuMeter", "SkuPriceDetails", "RegionId",
    "x_UsageType", "x_SkuMeterName", "x_instance_type", "Tags",
]  # fmt: skip


def _focus_lines() -> list[dict[str, str | None]]:
    """One day of each kind of row (None = NULL)."""
    aws = {"ProviderName": "AWS", "ServiceName": "AmazonEC2", "ResourceType": "Instance"}
    gcp = {"ProviderName": "Google Cloud", "ServiceName": "Compute Engine", "ResourceType": None}
    azure = {"ProviderName": "Microsoft", "ServiceName": "Virtual Machines"}
    hours = {"ConsumedUnit": "Hours", "PricingUnit": "Hours"}
    return [
        {**aws, **hours, "ConsumedQuantity": "24", "PricingQuantity": "24",
         "x_UsageType": "USE1-BoxUsage:p4d.24xlarge", "BilledCost": "786.54",
         "SkuPriceDetails": '{"InstanceType": "p4d.24xlarge", "OperatingSystem": "Linux"}'},
        {**aws, **hours, "ConsumedQuantity": "10", "PricingQuantity": None, "x_UsageType": None,
         "ChargeDescription": "$98.32 per On Demand Linux p5.48xlarge Instance Hour",
         "BilledCost": "983.2", "SkuPriceDetails": None},
        {**aws, "ConsumedUnit": "GB-Mo", "ConsumedQuantity": "100", "BilledCost": "8.0",
         "x_UsageType": "USE1-EBS:VolumeUsage.gp3", "ResourceType": "volume"},
        {**gcp, "ConsumedUnit": "seconds", "ConsumedQuantity": str(8 * 86400),
         "PricingUnit": "hour", "PricingQuantity": "192", "BilledCost": "563.3",
         "ChargeDescription": "Nvidia Tesla A100 GPU running in Americas"},
        {**gcp, "ConsumedUnit": "seconds", "ConsumedQuantity": str(96 * 86400),
         "PricingUnit": "hour", "PricingQuantity": "2304", "BilledCost": "72.1",
         "ChargeDescription": "A2 Instance Core running in Americas",
         "x_instance_type": "a2-highgpu-8g"},
        {**gcp, "PricingUnit": "hour", "PricingQuantity": "24", "BilledCost": "40.0",
         "ChargeDescription": "Commitment v1: Nvidia L4 GPU running in Americas for 1 Year"},
        {**gcp, "PricingUnit": "hour", "PricingQuantity": "48", "BilledCost": "9.6",
         "ChargeDescription": "Preemptible Nvidia Tesla T4 GPU running in Americas"},
        {**azure, "ConsumedUnit": "1 Hour", "ConsumedQuantity": "24", "BilledCost": "652.8",
         "x_SkuMeterName": "ND96asr A100 v4", "SkuMeter": "ND96asr A100 v4",
         "SkuPriceDetails": '{"ServiceType": "Standard_ND96asr_v4", "VCPUs": 96}'},
        {**azure, **hours, "ConsumedQuantity": "12", "BilledCost": "1.2",
         "x_SkuMeterName": "NV6ads A10 v5 Spot"},
        {**azure, **hours, "ConsumedQuantity": "24", "BilledCost": "2.3",
         "x_SkuMeterName": "D2s v3", "SkuPriceDetails": '{"ServiceType": "Standard_D2s_v3"}'},
        {**aws, "ChargeCategory": "Tax", "BilledCost": "12.5", "ConsumedUnit": None,
         "ResourceType": None},
    ]  # fmt: skip


def write_focus_gpus(path: Path, days: int = 5) -> Path:
    rows = []
    for day in range(days):
        start = (date(2026, 11, 1) + timedelta(days=day)).isoformat()
        end = (date(2026, 11, 2) + timedelta(days=day)).isoformat()
        for i, line in enumerate(_focus_lines()):
            row = dict.fromkeys(FOCUS_COLUMNS)
            row.update(BillingAccountId="999", SubAccountId="111", BillingCurrency="USD",
                       ChargeCategory="Usage", ChargePeriodStart=f"{start}T00:00:00Z",
                       ChargePeriodEnd=f"{end}T00:00:00Z", BillingPeriodStart="2026-11-01",
                       RegionId="us-east-1", SkuId=f"sku-{i}", ResourceId=f"r-{i}",
                       ServiceCategory="Compute",
                       Tags=json.dumps({"team": f"t{i % 3}"}))  # fmt: skip
            row.update(line)
            row["EffectiveCost"] = row["ListCost"] = row["BilledCost"]
            rows.append(row)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, FOCUS_COLUMNS)
        writer.writeheader()
        writer.writerows({k: "NULL" if v is None else v for k, v in r.items()} for r in rows)
    return path


# the test's own reading of the descriptions the file uses: (model, GPUs per hour)
DESCRIBED = {
    "Nvidia Tesla A100 GPU running in Americas": ("A100", 1),
    "A2 Instance Core running in Americas": ("A100", 0),  # GPUs billed as the SKU above
    "Commitment v1: Nvidia L4 GPU running in Americas for 1 Year": ("L4", 0),
    "Preemptible Nvidia Tesla T4 GPU running in Americas": ("T4", 1),
    "$98.32 per On Demand Linux p5.48xlarge Instance Hour": ("H100", 8),
    "ND96asr A100 v4": ("A100", 8),
    "NV6ads A10 v5 Spot": ("A10", 1 / 6),
}


def _focus_expected(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    hours: dict[str, float] = defaultdict(float)
    spend: dict[str, float] = defaultdict(float)
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            usage = r["x_UsageType"] if r["x_UsageType"] != "NULL" else ""
            itype = usage.split(":")[-1] if ":" in usage else ""
            described = r["ChargeDescription"] if r["ChargeDescription"] != "NULL" else ""
            model, per_hour = (
                GPUS[itype] if itype in GPUS
                else DESCRIBED.get(described) or DESCRIBED.get(r["x_SkuMeterName"], (None, 0))
            )  # fmt: skip
            if model is None:
                continue
            spend[model] += float(r["BilledCost"])
            if r["ChargeCategory"] != "Usage" or not per_hour:
                continue
            unit, pricing_unit = r["ConsumedUnit"], r["PricingUnit"]
            if unit in ("Hours", "1 Hour"):
                hours[model] += float(r["ConsumedQuantity"]) * per_hour
            elif pricing_unit in ("Hours", "hour"):
                hours[model] += float(r["PricingQuantity"]) * per_hour
    return dict(hours), dict(spend)


def test_focus_gpu_rows_of_three_clouds(db, rules, tmp_path):
    path = write_focus_gpus(tmp_path / "focus.csv")
    report = import_file(db, path, rules=rules, now=NOW)
    assert report.result.bad.count == 0
    hours, spend = _focus_expected(path)
    assert set(spend) == {"A100", "H100", "L4", "T4", "A10"}
    assert _by(db, "gpu", "GPUHours") == _approx(hours)
    assert _by(db, "gpu", "EffectiveCost") == _approx(spend)
    instances = _by(db, "instance", "BilledCost")
    assert set(instances) == {"p4d.24xlarge", "p5.48xlarge", "a2-highgpu-8g",
                              "Standard_ND96asr_v4", "Standard_NV6ads_A10_v5",
                              "Standard_D2s_v3"}  # fmt: skip
    by_provider = _by(db, "provider", "GPUHours", Where.of({"gpu": ["A100"]}))
    assert by_provider == _approx(
        {"AWS": 5 * 24 * 8, "Google Cloud": 5 * 192, "Microsoft": 5 * 192}
    )
    stored = db.execute("SELECT SUM(x_GpuHours) FROM focus_charges").fetchone()[0]
    assert stored == pytest.approx(sum(hours.values()))


AZURE_COLUMNS = [
    "BillingAccountId", "BillingAccountName", "BillingPeriodStartDate", "BillingPeriodEndDate",
    "SubscriptionId", "SubscriptionName", "Date", "Product", "PartNumber", "MeterId",
    "MeterCategory", "MeterSubCategory", "MeterName", "Quantity", "EffectivePrice", "Cost",
    "UnitPrice", "BillingCurrency", "ResourceLocation", "ResourceId", "AdditionalInfo",
    "Tags", "UnitOfMeasure", "ChargeType", "PricingModel",
]  # fmt: skip


VMS = [
    ("NC24ads A100 v4", "Standard_NC24ads_A100_v4", "OnDemand", 3.673, 24),
    ("ND96asr A100 v4 Spot", "Standard_ND96asr_v4", "Spot", 8.16, 6),
    ("D2 v3/D2s v3", "Standard_D2s_v3", "OnDemand", 0.096, 24),
]


def write_azure(path: Path, price_factor: float = 1.0) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(AZURE_COLUMNS)
        for day in range(1, 6):
            for i, (meter, size, model, price, qty) in enumerate(VMS):
                info = json.dumps({"ServiceType": size, "UsageType": "ComputeHR"})
                cost = round(qty * price * price_factor, 6)
                writer.writerow(["8611537", "Acme", "11/01/2026", "11/30/2026", "sub-1", "ml",
                                 f"11/{day:02d}/2026", f"Virtual Machines {meter}", f"AAA-{i}",
                                 f"m-{i}", "Virtual Machines", "NC Series", meter, qty, price,
                                 cost, price, "USD", "eastus", f"/subscriptions/sub-1/vm-{i}",
                                 info, '"team": "speech"', "1 Hour", "Usage", model])  # fmt: skip
    return path


def _azure_hours(path: Path) -> dict[str, float]:
    hours: dict[str, float] = defaultdict(float)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for r in csv.DictReader(fh):
            size = json.loads(r["AdditionalInfo"])["ServiceType"]
            if size in GPUS:
                model, gpus = GPUS[size]
                hours[model] += float(r["Quantity"]) * gpus
    return dict(hours)


def test_azure_cost_details_vm_meters(db, rules, tmp_path):
    path = write_azure(tmp_path / "EA_ActualCost_202611.csv")
    import_file(db, path, rules=rules, now=NOW)
    assert _by(db, "gpu", "GPUHours") == _approx(_azure_hours(path))
    assert set(_by(db, "instance", "BilledCost")) == {v[1] for v in VMS}


def test_gpu_hours_never_double_when_deliveries_meet(db, rules, tmp_path):
    """Azure actual + amortised exports merge (the hours come from the actual one); a CUR
    imported again in other bytes replaces itself; no GPU-hours outlive their charges."""
    actual = write_azure(tmp_path / "EA_ActualCost_202611.csv")
    import_file(db, actual, rules=rules, now=NOW)
    import_file(
        db, write_azure(tmp_path / "EA_AmortizedCost_202611.csv", 0.9), rules=rules, now=NOW
    )
    assert _by(db, "gpu", "GPUHours") == _approx(_azure_hours(actual))
    cur = write_cur(tmp_path / "cur.csv")
    import_file(db, cur, rules=rules, now=NOW)
    again = tmp_path / "cur-again.csv"
    again.write_text(cur.read_text().replace("\n", "\r\n"))  # the same charges, other bytes
    report = import_file(db, again, rules=rules, now=NOW)
    assert report.result.rows_replaced > 0
    hours, _ = _cur_expected(cur)
    expected = dict(_azure_hours(actual))
    for model, h in hours.items():
        expected[model] = expected.get(model, 0.0) + h
    assert _by(db, "gpu", "GPUHours") == _approx(expected)
    orphans = db.execute(
        "SELECT COUNT(*) FROM charge_gpu g LEFT JOIN charges c ON c.id = g.id WHERE c.id IS NULL"
    ).fetchone()[0]
    assert orphans == 0
    stored = db.execute("SELECT SUM(gpu_hours) FROM charge_gpu").fetchone()[0]
    assert stored == pytest.approx(sum(expected.values()))
