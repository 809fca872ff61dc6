"""A small FOCUS 1.0 CSV the demo writes next to its cache, so the import its "Try next"
suggests works in any clone: a second organisation (Globex Robotics, one AWS account), the
whole month before ``today``'s, four resources a day and one tax line. Same ``today`` →
same file, byte for byte.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

COLUMNS = [
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "ProviderName",
    "BillingAccountId",
    "BillingAccountName",
    "SubAccountId",
    "SubAccountName",
    "RegionId",
    "ServiceName",
    "ServiceCategory",
    "ChargeCategory",
    "PricingCategory",
    "ResourceId",
    "ResourceType",
    "SkuId",
    "ConsumedQuantity",
    "ConsumedUnit",
    "Tags",
]
ACCOUNT_ID, ACCOUNT_NAME = "210987654321", "Globex Robotics"
TAX_RATE = 0.08


@dataclass(frozen=True)
class SampleResource:
    service: str
    category: str
    resource_id: str
    resource_type: str
    sku: str
    pricing: str
    price: float  # a unit, at its pricing category's rate
    list_price: float
    units: float  # a day (half on weekends for instances)
    unit: str
    project: str  # "" for untagged


RESOURCES = [
    SampleResource(
        "Amazon Elastic Compute Cloud",
        "Compute",
        "i-0sim01",
        "Instance",
        "G5-SPOT",
        "Dynamic",
        0.49,
        1.624,
        24 * 4,
        "Hours",
        "sim-farm",
    ),
    SampleResource(
        "Amazon Elastic Compute Cloud",
        "Compute",
        "i-0vision1",
        "Instance",
        "P4D-OD",
        "Standard",
        32.77,
        32.77,
        10,
        "Hours",
        "robot-vision",
    ),
    SampleResource(
        "Amazon Simple Storage Service",
        "Storage",
        "globex-datasets",
        "Bucket",
        "S3-STD",
        "Standard",
        0.023 / 30,
        0.023 / 30,
        1800,
        "GB-Mo",
        "robot-vision",
    ),
    SampleResource(
        "AWS Data Transfer",
        "Networking",
        "",
        "",
        "DT-OUT",
        "Standard",
        0.09,
        0.09,
        120,
        "GB",
        "",
    ),
]


@dataclass(frozen=True)
class SampleFile:
    path: Path
    rows: int
    first_day: date
    last_day: date


def sample_month(today: date) -> tuple[date, date]:
    """The whole calendar month before ``today``'s: first and last day."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def write_sample(path: Path | str, today: date) -> SampleFile:
    """Write the file (replacing one already there) and say what it holds."""
    first, last = sample_month(today)
    period = {
        "BillingPeriodStart": _stamp(first),
        "BillingPeriodEnd": _stamp(last + timedelta(days=1)),
    }
    rows, total = [], 0.0
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        for r in RESOURCES:
            weekend = day.weekday() >= 5 and r.resource_type == "Instance"
            quantity = r.units / 2 if weekend else r.units
            cost = round(r.price * quantity, 4)
            total += cost
            rows.append(_usage(period, day, r, quantity, cost))
    tax = round(total * TAX_RATE, 2)
    rows.append(
        {
            **_charge(period, last, tax, tax),
            "ServiceName": "Tax",
            "ServiceCategory": "Other",
            "ChargeCategory": "Tax",
        }
    )
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return SampleFile(path, len(rows), first, last)


def _stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _charge(period: dict, day: date, cost: float, list_cost: float) -> dict:
    return {
        **period,
        "ChargePeriodStart": _stamp(day),
        "ChargePeriodEnd": _stamp(day + timedelta(days=1)),
        "BilledCost": f"{cost:.4f}",
        "EffectiveCost": f"{cost:.4f}",
        "ListCost": f"{list_cost:.4f}",
        "BillingCurrency": "USD",
        "ProviderName": "AWS",
        "BillingAccountId": ACCOUNT_ID,
        "BillingAccountName": ACCOUNT_NAME,
        "SubAccountId": ACCOUNT_ID,
        "SubAccountName": ACCOUNT_NAME,
    }


def _usage(period: dict, day: date, r: SampleResource, quantity: float, cost: float) -> dict:
    tags = {"project": r.project, "team": "robotics"} if r.project else {}
    return {
        **_charge(period, day, cost, round(r.list_price * quantity, 4)),
        "RegionId": "us-west-2",
        "ServiceName": r.service,
        "ServiceCategory": r.category,
        "ChargeCategory": "Usage",
        "PricingCategory": r.pricing,
        "ResourceId": r.resource_id,
        "ResourceType": r.resource_type,
        "SkuId": r.sku,
        "ConsumedQuantity": f"{quantity:g}",
        "ConsumedUnit": r.unit,
        "Tags": json.dumps(tags, sort_keys=True) if tags else "",
    }
