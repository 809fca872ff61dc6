"""GCP billing export in BigQuery, through an injected client that answers export-shaped
rows: credits reduce cost, only days whose export_time moved are aggregated again."""

from __future__ import annotations

from datetime import date

import pytest
from google.api_core import exceptions as gexc

from finops_bot.questions import Engine
from finops_bot.sources.gcp_bigquery import GcpBigQueryExport
from finops_bot.sources.sync import sync_source
from tests.conftest import NOW

TODAY = date(2026, 11, 22)
TABLE = "acme-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7G8H9"


class FakeBigQuery:
    """Answers the two queries the source sends, from rows shaped like the export's."""

    def __init__(self, export_times: dict[str, str], cost: float = 100.0, error=None):
        self.export_times = export_times
        self.cost = cost
        self.error = error
        self.queries: list[tuple[str, dict]] = []

    def query(self, sql, job_config=None):
        params = {p.name: p.value for p in job_config.query_parameters}
        self.queries.append(("manifest" if "MAX(export_time)" in sql else "cost", params))
        if self.error:
            raise self.error
        assert f"`{TABLE}`" in sql and "_PARTITIONTIME" in sql
        day = str(params["start"])
        if "MAX(export_time)" in sql:
            rows = (
                [{"day": day, "exported": self.export_times[day]}]
                if day in self.export_times
                else []
            )
        else:
            rows = [
                {
                    "day": day,
                    "billing_account_id": "01A2B3-C4D5E6-F7G8H9",
                    "project_id": "acme-research-4821",
                    "project_name": "acme-research",
                    "service": "Compute Engine",
                    "sku_id": "039F-D0DA-4055",
                    "sku_description": "Nvidia Tesla A100 GPU running in Americas",
                    "region": "us-central1",
                    "currency": "USD",
                    "cost_type": "regular",
                    "tag_value": "vision-research",
                    "cost": self.cost,
                    "credits": -5.0,
                    "quantity": 24.0,
                    "unit": "hour",
                },
                {
                    "day": day,
                    "billing_account_id": "01A2B3-C4D5E6-F7G8H9",
                    "project_id": "acme-research-4821",
                    "project_name": "acme-research",
                    "service": "Compute Engine",
                    "sku_id": "1B2D-A2B1-C3D4",
                    "sku_description": "Spot Preemptible Nvidia L4 GPU running in Americas",
                    "region": "us-central1",
                    "currency": "USD",
                    "cost_type": "regular",
                    "tag_value": None,
                    "cost": 10.0,
                    "credits": 0.0,
                    "quantity": 8.0,
                    "unit": "hour",
                },
            ]
        return type("Job", (), {"result": lambda self_: rows})()


def test_sync_aggregates_credits_and_skips_unchanged_days(db, rules):
    times = {f"2026-11-{d}": f"2026-11-{d} 06:00:00" for d in range(17, 23)}
    fake = FakeBigQuery(times)
    source = GcpBigQueryExport("gcp", lambda: fake, TABLE)
    result = sync_source(db, source, today=TODAY, now=NOW, rules=rules)
    assert result.ok, result.error
    assert len(result.windows) == 6 and result.rows == 12
    engine = Engine(db)
    a = engine.ask("project vision-research between 2026-11-17 and 2026-11-22", TODAY, NOW)
    assert a.total == pytest.approx(6 * 95.0)  # credits reduce cost
    spot = engine.ask("spot vs on-demand for account acme-research yesterday", TODAY, NOW)
    assert {r.key: r.cost for r in spot.rows} == {"on-demand": 95.0, "spot": 10.0}

    # late rows arrive for the 20th only: that day alone is aggregated again
    fake.queries.clear()
    fake.export_times["2026-11-20"] = "2026-11-22 03:00:00"
    fake.cost = 300.0
    again = sync_source(db, source, today=TODAY, now=NOW, rules=rules)
    assert [str(w.start) for w in again.windows] == ["2026-11-20"]
    assert len(again.unchanged) == 5
    assert [k for k, _ in fake.queries].count("cost") == 1
    assert engine.ask("vision-research on 2026-11-20", TODAY, NOW).total == pytest.approx(295.0)
    assert engine.ask("vision-research on 2026-11-19", TODAY, NOW).total == pytest.approx(95.0)


def test_forbidden_and_missing_table_are_sentences(db, rules):
    for error, words in (
        (gexc.Forbidden("no"), "roles/bigquery.dataViewer"),
        (gexc.NotFound("no"), "not found"),
    ):
        source = GcpBigQueryExport("gcp", lambda e=error: FakeBigQuery({}, error=e), TABLE)
        result = sync_source(db, source, today=TODAY, now=NOW, rules=rules)
        assert not result.ok and words in result.error


def test_table_name_is_validated():
    from finops_bot.errors import ConfigError

    with pytest.raises(ConfigError, match="project.dataset"):
        GcpBigQueryExport("gcp", lambda: None, "x`; DROP TABLE y; --")
