"""Cloud Billing catalog prices and accounts through the real google-cloud-billing clients
(REST transport), answered by the recorded catalog page and error (`responses`)."""

from __future__ import annotations

import json
import re

import pytest
import responses
from google.auth.credentials import AnonymousCredentials
from google.cloud import billing_v1

from finops_bot.gpu.prices import PriceBook
from finops_bot.sources.gcp_billing import GcpCloudBilling
from finops_bot.sources.sync import refresh_source
from tests.conftest import NOW

SKUS = re.compile(r"https://cloudbilling\.googleapis\.com/v1/services/6F81-5844-456A/skus.*")


def catalog():
    return billing_v1.CloudCatalogClient(credentials=AnonymousCredentials(), transport="rest")


def billing():
    return billing_v1.CloudBillingClient(credentials=AnonymousCredentials(), transport="rest")


@responses.activate
def test_gpu_prices_and_accounts_are_loaded(db, shared_fixtures):
    page = json.loads(
        (shared_fixtures / "gcp/cloud_billing_catalog_compute_skus_page.json").read_text()
    )

    def skus(request):
        if "pageToken" in request.url:
            return 200, {}, json.dumps({"skus": []})
        return 200, {}, json.dumps(page)

    responses.add_callback(responses.GET, SKUS, callback=skus)
    responses.add(
        responses.GET,
        "https://cloudbilling.googleapis.com/v1/billingAccounts",
        json={
            "billingAccounts": [
                {
                    "name": "billingAccounts/01A2B3-C4D5E6-F7G8H9",
                    "displayName": "Acme AI billing",
                    "open": True,
                }
            ]
        },
    )
    responses.add(
        responses.GET,
        "https://cloudbilling.googleapis.com/v1/billingAccounts/01A2B3-C4D5E6-F7G8H9/projects",
        json={
            "projectBillingInfo": [
                {
                    "name": "projects/acme-research-4821/billingInfo",
                    "projectId": "acme-research-4821",
                    "billingAccountName": "billingAccounts/01A2B3-C4D5E6-F7G8H9",
                    "billingEnabled": True,
                }
            ]
        },
    )
    source = GcpCloudBilling("gcp-billing", billing, catalog)
    result = refresh_source(db, source, now=NOW)
    assert result.ok, result.error
    prices = db.execute(
        "SELECT description, usage_type, unit, price, currency, effective_time FROM gpu_prices"
    ).fetchall()
    a100 = [p for p in prices if p[0] == "Nvidia Tesla A100 GPU running in Americas"]
    assert [p[:5] for p in a100] == [
        (
            "Nvidia Tesla A100 GPU running in Americas",
            "OnDemand",
            "h",
            pytest.approx(2.933908),
            "USD",
        )
    ]
    assert a100[0][5].startswith("2023-03-24T10:52:50")
    assert all(p[3] > 0 for p in prices)
    assert db.execute(
        "SELECT billing_account_name, sub_account_id, billing_enabled FROM cloud_accounts"
    ).fetchall() == [("Acme AI billing", "acme-research-4821", 1)]
    assert result.api_calls >= 2  # two catalog pages (nextPageToken) + accounts
    # the GPU fleet prices a GCP node from these: per GPU, by model and region
    book = PriceBook().with_catalog(db)
    a2 = book.node("gcp", "a2-highgpu-1g", False, "NVIDIA A100-SXM4-40GB", "us-central1", 1)
    assert a2.per_gpu == pytest.approx(2.933908) and a2.basis == "GCP catalog 2023-03-24"
    elsewhere = book.node("gcp", "a2-highgpu-1g", False, "NVIDIA A100-SXM4-40GB", "mars-1", 1)
    assert elsewhere.basis == "bundled 2026-11-01"  # no catalog price for that region


@responses.activate
def test_catalog_error_is_a_sentence(db, shared_fixtures):
    error = json.loads((shared_fixtures / "gcp/cloud_billing_catalog_error.json").read_text())
    responses.add(responses.GET, SKUS, status=400, json=error)
    result = refresh_source(db, GcpCloudBilling("gcp-billing", billing, catalog), now=NOW)
    assert not result.ok
    assert "gcp-billing: Cloud Billing said" in result.error and "API key not valid" in result.error
    assert "Traceback" not in result.error
