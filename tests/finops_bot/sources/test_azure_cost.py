"""Azure Cost Management through the real SDK client and its HTTP pipeline (requests
transport), answered by recorded real-shaped responses (`responses`): paging by nextLink,
429 with the Cost Management retry header, the recorded spec example as it is."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
import responses
from azure.core.credentials import AccessToken
from azure.mgmt.costmanagement import CostManagementClient

from finops_bot.sources.azure_cost import AzureCostManagement, parse_rows, retry_policy
from finops_bot.sources.sync import sync_source
from tests.conftest import NOW

TODAY = date(2026, 11, 22)
SCOPE = "subscriptions/1caaa5a3-2b66-438e-8ab4-bce37d518c5d"
QUERY_URL = re.compile(
    r"https://management\.azure\.com/subscriptions/.*/providers/"
    r"Microsoft\.CostManagement/query.*"
)
VM = f"/{SCOPE}/resourceGroups/speech/providers/Microsoft.Compute/virtualMachines/asr-nd96-0"
DISK = f"/{SCOPE}/resourceGroups/speech/providers/Microsoft.Compute/disks/asr-os"


class FakeCredential:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("fake-token", 4102444800)

    def get_token_info(self, *scopes, **kwargs):
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo("fake-token", 4102444800)


def client() -> CostManagementClient:
    return CostManagementClient(FakeCredential(), retry_policy=retry_policy())


def body(rows, next_link=None):
    return {
        "id": "q",
        "name": "q",
        "type": "microsoft.costmanagement/Query",
        "properties": {
            "nextLink": next_link,
            "columns": [
                {"name": "Cost", "type": "Number"},
                {"name": "ResourceId", "type": "String"},
                {"name": "TagKey", "type": "String"},
                {"name": "TagValue", "type": "String"},
                {"name": "UsageDate", "type": "Number"},
                {"name": "Currency", "type": "String"},
            ],
            "rows": rows,
        },
    }


def by_charge_type(rows):
    """The second query of a cost type: every charge by ChargeType and resource."""
    return {
        "id": "q",
        "name": "q",
        "type": "microsoft.costmanagement/Query",
        "properties": {
            "nextLink": None,
            "columns": [
                {"name": "Cost", "type": "Number"},
                {"name": "ChargeType", "type": "String"},
                {"name": "ResourceId", "type": "String"},
                {"name": "UsageDate", "type": "Number"},
                {"name": "Currency", "type": "String"},
            ],
            "rows": rows,
        },
    }


def is_usage_query(payload: dict) -> bool:
    return payload["dataset"]["grouping"][0]["name"] == "ResourceId"


def source() -> AzureCostManagement:
    return AzureCostManagement("azure-speech", client, SCOPE)


@responses.activate
def test_sync_pages_both_cost_types_and_merges(db, rules):
    next_link = (
        "https://management.azure.com/subscriptions/1caaa5a3-2b66-438e-8ab4-bce37d518c5d"
        "/providers/Microsoft.CostManagement/query?api-version=2024-08-01&$skiptoken=AQ"
    )
    actual_1 = body([[100.0, VM, "project", "speech-asr", 20261117, "USD"]], next_link)
    actual_2 = body([[7.5, DISK, "", "", 20261118, "USD"]])
    amortized = body(
        [[80.0, VM, "project", "speech-asr", 20261117, "USD"], [7.5, DISK, "", "", 20261118, "USD"]]
    )
    seen = []

    purchase = [
        [
            300.0,
            "Purchase",
            f"/{SCOPE}/providers/Microsoft.Capacity/reservationOrders/r1",
            20261118,
            "USD",
        ],
        [100.0, "Usage", VM, 20261117, "USD"],  # the usage query has it, with its tag
    ]
    unused = [
        [12.0, "UnusedReservation", VM, 20261118, "USD"],
        [80.0, "Usage", VM, 20261117, "USD"],
    ]

    def reply(request):
        payload = json.loads(request.body)
        usage = is_usage_query(payload)
        seen.append((payload["type"], usage, "skiptoken" in request.url))
        if not usage:
            rows = purchase if payload["type"] == "ActualCost" else unused
            return 200, {}, json.dumps(by_charge_type(rows))
        if payload["type"] == "ActualCost":
            return 200, {}, json.dumps(actual_2 if "skiptoken" in request.url else actual_1)
        return 200, {}, json.dumps(amortized)

    responses.add_callback(responses.POST, QUERY_URL, callback=reply)
    result = sync_source(db, source(), today=TODAY, now=NOW, rules=rules)
    assert result.ok, result.error
    assert seen == [
        ("ActualCost", True, False),
        ("ActualCost", True, True),
        ("ActualCost", False, False),
        ("AmortizedCost", True, False),
        ("AmortizedCost", False, False),
    ]
    assert result.api_calls == 5
    by_category = dict(
        db.execute(
            "SELECT ChargeCategory, SUM(BilledCost) || '/' || SUM(EffectiveCost) "
            "FROM focus_charges GROUP BY 1"
        ).fetchall()
    )
    assert by_category == {"Usage": "107.5/99.5", "Purchase": "300.0/0.0"}
    got = db.execute(
        "SELECT ChargeDay, ServiceName, project, BilledCost, EffectiveCost, "
        "SubAccountId FROM focus_charges WHERE ChargeCategory = 'Usage' AND project != '' "
        "OR ServiceName = 'Storage' ORDER BY 1"
    ).fetchall()
    assert got == [
        (
            "2026-11-17",
            "Virtual Machines",
            "speech-asr",
            100.0,
            80.0,
            "1caaa5a3-2b66-438e-8ab4-bce37d518c5d",
        ),
        ("2026-11-18", "Storage", "", 7.5, 7.5, "1caaa5a3-2b66-438e-8ab4-bce37d518c5d"),
    ]
    request = json.loads(responses.calls[0].request.body)
    assert request["dataset"]["granularity"] == "Daily"
    assert request["dataset"]["grouping"] == [
        {"type": "Dimension", "name": "ResourceId"},
        {"type": "TagKey", "name": "project"},
    ]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer fake-token"


@responses.activate
def test_429_waits_for_the_cost_management_retry_header(db, rules):
    calls = {"n": 0}

    def reply(request):
        calls["n"] += 1
        if calls["n"] == 1:
            return 429, {"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "1"}, "{}"
        return 200, {}, json.dumps(body([[1.0, VM, "project", "speech-asr", 20261120, "USD"]]))

    responses.add_callback(responses.POST, QUERY_URL, callback=reply)
    result = sync_source(db, source(), today=TODAY, now=NOW, rules=rules)
    assert result.ok, result.error
    assert calls["n"] == 5  # one 429, then two queries for each cost type


@responses.activate
def test_forbidden_names_the_role(db, rules):
    responses.add(
        responses.POST,
        QUERY_URL,
        status=403,
        json={"error": {"code": "AuthorizationFailed", "message": "no"}},
    )
    result = sync_source(db, source(), today=TODAY, now=NOW, rules=rules)
    assert not result.ok and "grant the Cost Management Reader role" in result.error


def test_the_recorded_spec_example_parses(shared_fixtures):
    example = json.loads((shared_fixtures / "azure/query_api/BillingAccountQuery.json").read_text())
    properties = example["responses"]["200"]["body"]["properties"]
    rows = list(parse_rows(properties, "project"))
    assert len(rows) == len(properties["rows"])
    (day, resource_group, tag, currency), cost = rows[0]
    assert (day, resource_group, currency) == ("2018-03-31", "JapanUnifia-Trial", "USD")
    assert cost == pytest.approx(19.545363672276512)
    assert properties["nextLink"]  # the example pages


def test_no_azure_credential_says_what_to_do(db, rules):
    from azure.core.exceptions import ClientAuthenticationError

    class NoCredential:
        def get_token(self, *a, **kw):
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

        get_token_info = get_token

    def no_login_client():
        return CostManagementClient(NoCredential(), retry_policy=retry_policy())

    result = sync_source(
        db, AzureCostManagement("azure", no_login_client, SCOPE), today=TODAY, now=NOW, rules=rules
    )
    assert not result.ok and "az login" in result.error and "AZURE_CLIENT_ID" in result.error
