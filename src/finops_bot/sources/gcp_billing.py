"""GCP Cloud Billing API: billing accounts and their projects, and the Cloud Catalog's
Compute Engine GPU SKU prices (on-demand, Spot/preemptible, commitments) into a dated price
table that the GPU and Spot features read. Metadata, not charges: `sync` refreshes it.
Needs billing.accounts.get (billingAccounts.list returns the accounts the caller may view)
and billing.resourceAssociations.list (their projects) on the billing account: the predefined
roles/billing.viewer holds them. The catalog is public (any authenticated caller)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from finops_bot import adaptors
from finops_bot.sources.base import SourceConfig
from finops_bot.sources.gcp_errors import google_errors

COMPUTE_ENGINE = "6F81-5844-456A"


def unit_price(money: Any) -> float:
    return float(getattr(money, "units", 0) or 0) + float(getattr(money, "nanos", 0) or 0) / 1e9


def _timestamp(value: Any) -> str | None:
    if not value:
        return None
    for method in ("rfc3339", "ToJsonString", "isoformat"):
        if hasattr(value, method):
            return getattr(value, method)()
    return str(value)


class GcpCloudBilling:
    kind = "gcp_cloud_billing"
    # GCP IAM permissions: billingAccounts.list and billingAccounts.projects.list (the
    # Cloud Catalog's services.skus.list needs none)
    permissions: tuple[str, ...] = ("billing.accounts.get", "billing.resourceAssociations.list")

    def __init__(
        self,
        name: str,
        billing_factory: Callable[[], Any],
        catalog_factory: Callable[[], Any],
        service: str = COMPUTE_ENGINE,
        list_accounts: bool = True,
    ):
        self.name = name
        self.billing_factory = billing_factory
        self.catalog_factory = catalog_factory
        self.service = service
        self.list_accounts = list_accounts
        self.api_calls = 0

    @classmethod
    def from_config(cls, config: SourceConfig, factories: Mapping[str, Callable[..., Any]]):
        options = dict(config.options)
        return cls(
            config.name,
            factories["gcp_billing_client"],
            factories["gcp_catalog_client"],
            str(options.get("service", COMPUTE_ENGINE)),
            bool(options.get("list_accounts", True)),
        )

    @adaptors.needs(adaptors.billing_v1)
    def refresh(self, db: Database, now: datetime) -> int:
        """Reload prices (and accounts); returns the rows written."""
        self.api_calls = 0
        stamp = now.isoformat(timespec="seconds")
        with google_errors(
            self.name, "Cloud Billing", denied="grant roles/billing.viewer on the billing account"
        ):
            prices = self._prices(stamp)
            accounts = self._accounts(stamp) if self.list_accounts else []
        with db.conn:
            db.execute("DELETE FROM gpu_prices WHERE source = ?", (self.name,))
            db.conn.executemany(
                "INSERT OR REPLACE INTO gpu_prices VALUES (?,?,?,?,?,?,?,?,?,?,?)", prices
            )
            if self.list_accounts:
                db.execute("DELETE FROM cloud_accounts WHERE provider = 'Google Cloud'")
                db.conn.executemany(
                    "INSERT OR REPLACE INTO cloud_accounts VALUES (?,?,?,?,?,?,?)", accounts
                )
        return len(prices) + len(accounts)

    def _prices(self, stamp: str) -> list[tuple]:
        catalog = self.catalog_factory()
        rows = []
        pager = catalog.list_skus(parent=f"services/{self.service}")
        for page in pager.pages:
            self.api_calls += 1
            for sku in page.skus:
                if sku.category.resource_group != "GPU":
                    continue
                for info in sku.pricing_info[-1:]:  # the current price
                    rates = [
                        r
                        for r in info.pricing_expression.tiered_rates
                        if unit_price(r.unit_price) > 0
                    ]
                    if not rates:
                        continue
                    rate = rates[0]
                    rows.append(
                        (
                            "Google Cloud",
                            sku.sku_id,
                            sku.category.usage_type,
                            sku.description,
                            json.dumps(list(sku.service_regions)),
                            rate.unit_price.currency_code,
                            info.pricing_expression.usage_unit,
                            unit_price(rate.unit_price),
                            _timestamp(info.effective_time),
                            self.name,
                            stamp,
                        )
                    )
        return rows

    def _accounts(self, stamp: str) -> list[tuple]:
        billing = self.billing_factory()
        rows = []
        for account in billing.list_billing_accounts():
            self.api_calls += 1
            account_id = account.name.split("/", 1)[-1]
            for info in billing.list_project_billing_info(name=account.name):
                rows.append(
                    (
                        "Google Cloud",
                        account_id,
                        account.display_name,
                        info.project_id,
                        info.project_id,
                        int(info.billing_enabled),
                        stamp,
                    )
                )
        return rows
