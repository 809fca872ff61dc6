"""Shared test helpers: the shared fixtures folder, temporary caches, FOCUS file writers."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from finops_bot.ingest.tags import TagRules
from finops_bot.store import connect

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
TODAY = date(2026, 11, 22)  # a Sunday

FOCUS_COLUMNS = [
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "ProviderName",
    "BillingAccountId",
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


@pytest.fixture
def shared_fixtures() -> Path:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"shared fixtures folder {SHARED_FIXTURES} is absent (fresh clone without it)")
    return SHARED_FIXTURES


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "cache.db"


@pytest.fixture
def db(db_path: Path):
    database = connect(db_path)
    yield database
    database.close()


@pytest.fixture
def rules() -> TagRules:
    return TagRules({"project": ("project",), "team": ("team", "org"), "owner": ("owner",)})


def charge(
    day: str,
    cost: float,
    *,
    project: str | None = "bert-training",
    service: str = "Amazon Elastic Compute Cloud",
    provider: str = "AWS",
    currency: str = "USD",
    pricing: str = "Standard",
    category: str = "Usage",
    effective: float | None = None,
    hour: int | None = None,
    resource: str = "i-1",
    tags: dict | None = None,
    account: str = "111",
    region: str = "us-east-1",
    team: str | None = None,
    owner: str | None = None,
) -> dict[str, str]:
    """One FOCUS row (daily, or hourly when ``hour`` is given)."""
    if tags is None:
        tags = {}
        if project is not None:
            tags["project"] = project
        if team is not None:
            tags["team"] = team
        if owner is not None:
            tags["owner"] = owner
    start = f"{day}T{hour or 0:02d}:00:00Z"
    if hour is None:
        end_day = date.fromordinal(date.fromisoformat(day).toordinal() + 1).isoformat()
        end = f"{end_day}T00:00:00Z"
    else:
        end = f"{day}T{hour:02d}:59:59Z" if hour == 23 else f"{day}T{hour + 1:02d}:00:00Z"
    return {
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "BilledCost": str(cost),
        "EffectiveCost": str(cost if effective is None else effective),
        "ListCost": str(cost),
        "BillingCurrency": currency,
        "ProviderName": provider,
        "BillingAccountId": "999",
        "SubAccountId": account,
        "SubAccountName": f"acct-{account}",
        "RegionId": region,
        "ServiceName": service,
        "ServiceCategory": "Compute",
        "ChargeCategory": category,
        "PricingCategory": pricing,
        "ResourceId": resource,
        "ResourceType": "Instance",
        "SkuId": "sku-1",
        "ConsumedQuantity": "24",
        "ConsumedUnit": "Hours",
        "Tags": json.dumps(tags) if tags else "",
    }


def write_focus(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = columns or FOCUS_COLUMNS
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def dump(db) -> dict[str, list]:
    """Everything a load writes, for before/after comparisons."""
    return {
        t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
        for t in ("charges", "cube", "sources", "loads", "names", "charge_keys", "tag_sets")
    }
