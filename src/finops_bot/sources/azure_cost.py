"""Azure Cost Management Query API: daily ActualCost and AmortizedCost at subscription or
billing-account scope, split by charge type.

The API allows two groupings, so each cost type is two queries: usage (ChargeType Usage)
by resource and the project tag, and every charge by ChargeType and resource, of which the
non-usage rows (purchases, refunds, unused reservations, taxes…) are kept with their
ChargeCategory. Those carry no project: the API cannot group them by tag as well.

Pages are followed through ``nextLink``. Throttling (429) is retried by azure-core's retry
policy, extended to honour Cost Management's ``x-ms-ratelimit-microsoft.costmanagement-*-
retry-after`` headers. Credentials come from azure-identity (DefaultAzureCredential)
through an injected factory. Needs Microsoft.CostManagement/query/action and query/read
on the scope, which the Cost Management Reader role holds.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, time
from typing import Any

import pyarrow as pa

from finops_bot import adaptors
from finops_bot.sources.base import SourceConfig, SourceError, SyncWindow, focus_columns

log = logging.getLogger("finops_bot.sources.azure")
ROLE_HINT = "Cost Management Reader"  # the built-in role that holds `permissions`
RATE_LIMIT_HEADERS = (
    "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after",
)
FRIENDLY_SERVICES = {
    "microsoft.compute/virtualmachines": "Virtual Machines",
    "microsoft.compute/disks": "Storage",
    "microsoft.storage/storageaccounts": "Storage",
    "microsoft.machinelearningservices/workspaces": "Azure Machine Learning",
    "microsoft.containerservice/managedclusters": "Azure Kubernetes Service",
    "microsoft.network/publicipaddresses": "Virtual Network",
    "microsoft.network/bandwidth": "Bandwidth",
}


def retry_policy(total: int = 5):
    class CostManagementRetry(adaptors.azure_policies.RetryPolicy):
        def _is_method_retryable(self, settings, request, response=None):  # noqa: ANN001
            # the Query API is a POST that only reads: safe to repeat on throttling
            if (
                request.method.upper() == "POST"
                and response is not None
                and response.status_code == 429
            ):
                return True
            return super()._is_method_retryable(settings, request, response=response)

        def get_retry_after(self, response):  # noqa: ANN001 - azure-core's signature
            standard = super().get_retry_after(response)
            if standard is not None:
                return standard
            headers = response.http_response.headers
            waits = []
            for name in RATE_LIMIT_HEADERS:
                try:
                    waits.append(float(headers[name]))
                except (KeyError, TypeError, ValueError):
                    continue
            return max(waits) if waits else None

    return CostManagementRetry(
        retry_total=total, retry_backoff_factor=1.0, retry_on_status_codes=[429, 500, 502, 503, 504]
    )


def service_of(resource_id: str) -> str:
    m = re.search(r"/providers/([^/]+/[^/]+)", resource_id or "", re.I)
    if not m:
        return ""
    kind = m.group(1).lower()
    return FRIENDLY_SERVICES.get(kind, m.group(1))


class AzureCostManagement:
    kind = "azure_cost_management"
    # Azure RBAC actions for the Query API (POST {scope}/providers/Microsoft.CostManagement/
    # query, and its nextLink pages): the activity log names it query/action, yet Cost
    # Management Reader (Microsoft.CostManagement/*/read) is enough, so both are declared;
    # both only read
    permissions: tuple[str, ...] = (
        "Microsoft.CostManagement/query/action",
        "Microsoft.CostManagement/query/read",
    )

    def __init__(
        self, name: str, client_factory: Callable[[], Any], scope: str, tag_key: str = "project"
    ):
        self.name = name
        self.client_factory = client_factory  # the seam: tests pass a client on a fake wire
        self.scope = scope.strip("/")
        self.tag_key = tag_key
        self.api_calls = 0

    @classmethod
    def from_config(cls, config: SourceConfig, factories: Mapping[str, Callable[..., Any]]):
        options = dict(config.options)
        scope = options.get("scope")
        if not scope:
            from finops_bot.errors import ConfigError

            raise ConfigError(
                f"[[sources]] {config.name}: give the scope, e.g. scope = "
                '"/subscriptions/<id>" or "providers/Microsoft.Billing/'
                'billingAccounts/<id>"'
            )
        make = factories["azure_client"]
        return cls(config.name, make, str(scope), str(options.get("tag_key", "project")))

    def _query(self, window: SyncWindow, cost_type: str, usage: bool) -> dict:
        start = datetime.combine(window.start, time(0), tzinfo=UTC)
        end = datetime.combine(window.end, time(23, 59, 59), tzinfo=UTC)
        dataset: dict[str, Any] = {
            "granularity": "Daily",
            "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
        }
        if usage:
            dataset["filter"] = {
                "dimensions": {"name": "ChargeType", "operator": "In", "values": ["Usage"]}
            }
            dataset["grouping"] = [
                {"type": "Dimension", "name": "ResourceId"},
                {"type": "TagKey", "name": self.tag_key},
            ]
        else:
            dataset["grouping"] = [
                {"type": "Dimension", "name": "ChargeType"},
                {"type": "Dimension", "name": "ResourceId"},
            ]
        return {
            "type": cost_type,
            "timeframe": "Custom",
            "timePeriod": {"from": start.isoformat(), "to": end.isoformat()},
            "dataset": dataset,
        }

    def _pages(self, client, body: dict) -> Iterator[dict]:
        result = client.query.usage(self.scope, body)
        self.api_calls += 1
        properties = dict(result.properties) if result is not None else {}
        while True:
            yield properties
            next_link = properties.get("nextLink") or properties.get("next_link")
            if not next_link:
                return
            request = adaptors.azure_rest.HttpRequest("POST", next_link, json=body)
            response = client.send_request(request)
            self.api_calls += 1
            response.raise_for_status()
            properties = response.json().get("properties", {})

    @adaptors.needs(adaptors.azure_costmanagement, adaptors.azure_identity)
    def fetch(self, window: SyncWindow) -> Iterator[tuple[dict, int]]:
        errors = adaptors.azure_exceptions
        self.api_calls = 0
        merged: dict[tuple, dict[str, float]] = {}
        try:
            client = self.client_factory()
            for cost_type, measure in (("ActualCost", "billed"), ("AmortizedCost", "effective")):
                for usage in (True, False):
                    body = self._query(window, cost_type, usage)
                    for properties in self._pages(client, body):
                        for key, cost in parse_rows(properties, self.tag_key, charge_type=True):
                            *where, kind = key
                            if usage == (kind.lower() in ("", "usage")):
                                category = "Usage" if usage else charge_category(kind)
                                entry = merged.setdefault((*where, category), _zero())
                                entry[measure] += cost
        except errors.ClientAuthenticationError:
            raise SourceError(
                f"{self.name}: Azure sign-in failed; DefaultAzureCredential "
                "found no usable credential (az login, a managed identity, or "
                "AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET)"
            ) from None
        except errors.HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise SourceError(
                    f"{self.name}: access denied on {self.scope}; grant the "
                    f"{ROLE_HINT} role on that scope"
                ) from None
            raise SourceError(
                f"{self.name}: the Cost Management API answered {exc.status_code}: {exc.reason}"
            ) from None
        except errors.ServiceRequestError as exc:
            raise SourceError(f"{self.name}: could not reach Azure ({exc})") from None
        yield focus_columns(self._batch(merged))

    def _batch(self, merged: dict[tuple, dict[str, float]]) -> pa.RecordBatch:
        rows: dict[str, list] = {
            k: []
            for k in (
                "ChargePeriodStart",
                "BilledCost",
                "EffectiveCost",
                "BillingCurrency",
                "ProviderName",
                "ServiceName",
                "ResourceId",
                "SubAccountId",
                "ChargeCategory",
                "Tags",
            )
        }
        for (day, resource, tag, currency, category), costs in sorted(merged.items()):
            rows["ChargePeriodStart"].append(day)
            rows["BilledCost"].append(repr(costs["billed"]))
            rows["EffectiveCost"].append(repr(costs["effective"]))
            rows["BillingCurrency"].append(currency)
            rows["ProviderName"].append("Microsoft")
            rows["ServiceName"].append(service_of(resource))
            rows["ResourceId"].append(resource or None)
            sub = re.search(r"/subscriptions/([^/]+)", resource or "", re.I)
            rows["SubAccountId"].append(sub.group(1) if sub else None)
            rows["ChargeCategory"].append(category)
            rows["Tags"].append(json.dumps({self.tag_key: tag}) if tag else None)
        return pa.RecordBatch.from_pydict({k: pa.array(v, pa.string()) for k, v in rows.items()})


def _zero() -> dict[str, float]:
    return {"billed": 0.0, "effective": 0.0}


def charge_category(charge_type: str) -> str:
    """An Azure ChargeType → FOCUS ChargeCategory (unused commitments are usage)."""
    from finops_bot.ingest.azure_export import CHARGE

    return CHARGE.get(charge_type.replace(" ", "").lower(), "Adjustment")


def parse_rows(
    properties: Mapping[str, Any], tag_key: str, charge_type: bool = False
) -> Iterator[tuple[tuple, float]]:
    """Query result rows → ((day, resource, tag value, currency[, charge type]), cost).
    Column positions come from the result's own column list (PreTaxCost or Cost; UsageDate
    yyyymmdd)."""
    columns = [
        c["name"] if isinstance(c, Mapping) else c.name for c in properties.get("columns", [])
    ]
    index = {name.lower(): i for i, name in enumerate(columns)}
    cost_at = next(
        (index[n] for n in ("cost", "pretaxcost", "totalcost", "costusd") if n in index), 0
    )
    day_at = index.get("usagedate")
    currency_at = index.get("currency")
    resource_at = index.get("resourceid", index.get("resourcegroup"))
    tag_key_at, tag_value_at = index.get("tagkey"), index.get("tagvalue")
    kind_at = index.get("chargetype")
    for row in properties.get("rows", []):
        raw_day = str(row[day_at]) if day_at is not None else ""
        day = f"{raw_day[:4]}-{raw_day[4:6]}-{raw_day[6:8]}" if len(raw_day) == 8 else raw_day
        tag = ""
        if tag_value_at is not None and (
            tag_key_at is None or str(row[tag_key_at]).lower() == tag_key.lower()
        ):
            tag = str(row[tag_value_at] or "")
        key = (
            day,
            str(row[resource_at]) if resource_at is not None else "",
            tag,
            str(row[currency_at]) if currency_at is not None else "",
        )
        if charge_type:
            key += (str(row[kind_at] or "") if kind_at is not None else "",)
        yield key, float(row[cost_at] or 0.0)
