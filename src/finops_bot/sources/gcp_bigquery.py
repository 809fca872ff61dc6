"""GCP Cloud Billing export to BigQuery: daily cost by project, service, SKU, region and the
project label, credits included (they are negative).

Late-arriving rows rewrite earlier days (export_time moves), so the sync goes day by day:
a cheap query reads each day's latest export_time, and only days whose export_time changed
since the last sync are aggregated again. Queries are parameterised and filter on
_PARTITIONTIME, so BigQuery scans only the partitions that can hold those days. Needs
bigquery.tables.get and bigquery.tables.getData on the export table, and bigquery.jobs.create
on the project that runs the queries: the predefined roles roles/bigquery.dataViewer on the
export dataset and roles/bigquery.jobUser on the query project hold them.

Of the optional FOCUS columns (store.extras) the export gives AvailabilityZone
(location.zone). invoice.month is a month, not an invoice id, and the CUD credits name no
commitment status, so nothing else is mapped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pyarrow as pa

from finops_bot import adaptors
from finops_bot.sources.base import SourceConfig, SyncWindow, focus_columns
from finops_bot.sources.gcp_errors import google_errors

GRANT = "roles/bigquery.dataViewer (export dataset) and roles/bigquery.jobUser (query project)"
TABLE = re.compile(r"^[A-Za-z0-9_.\-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")
CHARGE = {
    "regular": "Usage",
    "tax": "Tax",
    "adjustment": "Adjustment",
    "rounding_error": "Adjustment",
}

MANIFEST_SQL = """
SELECT DATE(usage_start_time) AS day, CAST(MAX(export_time) AS STRING) AS exported
FROM `{table}`
WHERE DATE(_PARTITIONTIME) >= @start
  AND usage_start_time >= TIMESTAMP(@start)
  AND usage_start_time < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
GROUP BY day
ORDER BY day
"""

COST_SQL = """
SELECT
  DATE(usage_start_time) AS day,
  billing_account_id,
  project.id AS project_id,
  ANY_VALUE(project.name) AS project_name,
  service.description AS service,
  sku.id AS sku_id,
  ANY_VALUE(sku.description) AS sku_description,
  location.region AS region,
  location.zone AS zone,
  currency,
  cost_type,
  (SELECT l.value FROM UNNEST(labels) AS l WHERE l.key = @tag_key LIMIT 1) AS tag_value,
  SUM(cost) AS cost,
  SUM(IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c), 0)) AS credits,
  SUM(usage.amount_in_pricing_units) AS quantity,
  ANY_VALUE(usage.pricing_unit) AS unit
FROM `{table}`
WHERE DATE(_PARTITIONTIME) >= @start
  AND usage_start_time >= TIMESTAMP(@start)
  AND usage_start_time < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
GROUP BY day, billing_account_id, project_id, service, sku_id, region, zone, currency,
  cost_type, tag_value
"""


def pricing_of(sku_description: str) -> str:
    text = (sku_description or "").lower()
    if "preemptible" in text or "spot" in text:
        return "Dynamic"
    if "commitment" in text:
        return "Committed"
    return "Standard"


class GcpBigQueryExport:
    kind = "gcp_bigquery_export"
    # GCP IAM permissions: jobs.insert of the query (its own results need nothing more), and
    # the export table's metadata and rows
    permissions: tuple[str, ...] = (
        "bigquery.jobs.create",
        "bigquery.tables.get",
        "bigquery.tables.getData",
    )
    window_granularity = "day"

    def __init__(
        self, name: str, client_factory: Callable[[], Any], table: str, tag_key: str = "project"
    ):
        if not TABLE.match(table):
            from finops_bot.errors import ConfigError

            raise ConfigError(
                f"[[sources]] {name}: table {table!r} must be "
                "project.dataset.gcp_billing_export_v1_XXXXXX"
            )
        self.name = name
        self.client_factory = client_factory  # the seam: tests inject a fake client
        self.table = table
        self.tag_key = tag_key
        self.api_calls = 0

    @classmethod
    def from_config(cls, config: SourceConfig, factories: Mapping[str, Callable[..., Any]]):
        options = dict(config.options)
        make = factories["bigquery_client"]
        return cls(
            config.name,
            lambda: make(project=options.get("query_project")),
            str(options.get("table", "")),
            str(options.get("tag_key", "project")),
        )

    def _run(self, client, sql: str, window: SyncWindow) -> list:
        bigquery = adaptors.bigquery
        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter("start", "DATE", window.start),
                bigquery.ScalarQueryParameter("end", "DATE", window.end),
                bigquery.ScalarQueryParameter("tag_key", "STRING", self.tag_key),
            ]
        )
        with google_errors(
            self.name,
            "BigQuery",
            denied=f"on {self.table} grant {GRANT}",
            not_found=f"table {self.table} not found; check the billing export's dataset and "
            "table name",
        ):
            rows = list(client.query(sql.format(table=self.table), job_config=config).result())
        self.api_calls += 1
        return rows

    @adaptors.needs(adaptors.bigquery)
    def manifest(self, window: SyncWindow) -> list[tuple[str, str]]:
        """(day, latest export_time) for each day of the window that has rows."""
        self.api_calls = 0
        rows = self._run(self.client_factory(), MANIFEST_SQL, window)
        return [(str(r["day"]), str(r["exported"])) for r in rows]

    @adaptors.needs(adaptors.bigquery)
    def fetch(self, window: SyncWindow, files: list | None = None) -> Iterator[tuple[dict, int]]:
        rows = self._run(self.client_factory(), COST_SQL, window)
        out: dict[str, list] = {
            k: []
            for k in (
                "ChargePeriodStart",
                "BilledCost",
                "EffectiveCost",
                "BillingCurrency",
                "ProviderName",
                "BillingAccountId",
                "SubAccountId",
                "SubAccountName",
                "RegionId",
                "AvailabilityZone",
                "ServiceName",
                "SkuId",
                "ChargeCategory",
                "PricingCategory",
                "ConsumedQuantity",
                "PricingUnit",
                "Tags",
            )
        }
        for r in rows:
            net = float(r["cost"] or 0) + float(r["credits"] or 0)  # credits are negative
            out["ChargePeriodStart"].append(str(r["day"]))
            out["BilledCost"].append(repr(net))
            out["EffectiveCost"].append(repr(net))
            out["BillingCurrency"].append(r["currency"])
            out["ProviderName"].append("Google Cloud")
            out["BillingAccountId"].append(r["billing_account_id"])
            out["SubAccountId"].append(r["project_id"])
            out["SubAccountName"].append(r["project_name"])
            out["RegionId"].append(r["region"])
            out["AvailabilityZone"].append(r.get("zone") or None)
            out["ServiceName"].append(r["service"])
            out["SkuId"].append(r["sku_id"])
            out["ChargeCategory"].append(CHARGE.get(r["cost_type"] or "regular", "Usage"))
            out["PricingCategory"].append(pricing_of(r["sku_description"]))
            out["ConsumedQuantity"].append(None if r["quantity"] is None else repr(r["quantity"]))
            out["PricingUnit"].append(r["unit"])
            tag = r["tag_value"]
            out["Tags"].append(json.dumps({self.tag_key: tag}) if tag else None)
        yield focus_columns(
            pa.RecordBatch.from_pydict({k: pa.array(v, pa.string()) for k, v in out.items()})
        )
