"""AWS Cost Explorer through the real boto3 client against moto (results queued the moto
way: each distinct request body pops the next queued response)."""

from __future__ import annotations

from datetime import date, timedelta

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws

from finops_bot.questions import Engine
from finops_bot.sources.aws_ce import AwsCostExplorer
from finops_bot.sources.sync import sync_source
from tests.conftest import NOW

TODAY = date(2026, 11, 22)
MOTO_CE = "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results"


@pytest.fixture
def aws(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def day_result(day: date, groups: list[tuple[str, str, float]]) -> dict:
    return {
        "TimePeriod": {"Start": str(day), "End": str(day + timedelta(days=1))},
        "Total": {},
        "Estimated": day >= TODAY - timedelta(days=2),
        "Groups": [
            {
                "Keys": [f"project${p}", svc],
                "Metrics": {
                    "AmortizedCost": {"Amount": str(cost * 0.9), "Unit": "USD"},
                    "UnblendedCost": {"Amount": str(cost), "Unit": "USD"},
                },
            }
            for p, svc, cost in groups
        ],
    }


def page(days: list[date], token: str | None = None, scale: float = 1.0) -> dict:
    body = {
        "GroupDefinitions": [
            {"Type": "TAG", "Key": "project"},
            {"Type": "DIMENSION", "Key": "SERVICE"},
        ],
        "ResultsByTime": [
            day_result(
                d,
                [
                    ("bert-training", "Amazon Elastic Compute Cloud", 100 * scale),
                    ("", "Amazon Simple Storage Service", 5 * scale),
                ],
            )
            for d in days
        ],
        "DimensionValueAttributes": [],
    }
    if token:
        body["NextPageToken"] = token
    return body


def other_charges(days: list[date], groups: list[tuple[str, str, float]] = ()) -> dict:
    """The second query of a window: non-usage charges by RECORD_TYPE and SERVICE."""
    return {
        "GroupDefinitions": [
            {"Type": "DIMENSION", "Key": "RECORD_TYPE"},
            {"Type": "DIMENSION", "Key": "SERVICE"},
        ],
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": str(d), "End": str(d + timedelta(days=1))},
                "Total": {},
                "Groups": [
                    {
                        "Keys": [record_type, svc],
                        "Metrics": {
                            "AmortizedCost": {"Amount": str(cost), "Unit": "USD"},
                            "UnblendedCost": {"Amount": str(cost), "Unit": "USD"},
                        },
                    }
                    for record_type, svc, cost in groups
                ],
            }
            for d in days
        ],
        "DimensionValueAttributes": [],
    }


def queue(*responses: dict) -> None:
    r = requests.post(MOTO_CE, json={"results": list(responses)})
    assert r.status_code == 201


def window_days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def source() -> AwsCostExplorer:
    return AwsCostExplorer("aws-prod", lambda: boto3.Session(region_name="us-east-1"))


def test_sync_pages_maps_untagged_and_counts_requests(aws, db, rules):
    days = window_days(date(2026, 11, 17), TODAY)
    queue(page(days[:3], token="next-1"), page(days[3:]), other_charges(days))
    result = sync_source(db, source(), today=TODAY, now=NOW, rules=rules)
    assert result.ok, result.error
    assert (result.api_calls, result.rows) == (3, 12)  # two usage pages, one for the rest
    engine = Engine(db)
    a = engine.ask(
        "billed cost of project bert-training between 2026-11-17 and 2026-11-22", TODAY, NOW
    )
    assert a.total == pytest.approx(600.0)
    assert engine.ask("untagged spend since 2026-11-17", TODAY, NOW).total == pytest.approx(27.0)
    status = db.execute(
        "SELECT api_calls_last, api_calls_total, rows_last, last_error FROM source_status"
    ).fetchone()
    assert status == (3, 3, 12, None)


def test_restatement_replaces_the_window_and_keeps_older_days(aws, db, rules):
    queue(page(window_days(date(2026, 11, 10), date(2026, 11, 16))))
    assert sync_source(
        db, source(), today=date(2026, 11, 16), now=NOW, rules=rules, refresh_days=6
    ).ok
    queue(page(window_days(date(2026, 11, 17), TODAY)))
    assert sync_source(db, source(), today=TODAY, now=NOW, rules=rules).ok
    # the provider restated the last days: a narrower window (a new request for moto)
    queue(page(window_days(date(2026, 11, 18), TODAY), scale=2.0))
    assert sync_source(db, source(), today=TODAY, now=NOW, rules=rules, refresh_days=4).ok
    by_day = dict(
        db.execute(
            "SELECT ChargeDay, SUM(BilledCost) FROM focus_charges WHERE project != '' GROUP BY 1"
        ).fetchall()
    )
    assert by_day == {
        **{f"2026-11-{d}": 100.0 for d in range(10, 18)},
        **{f"2026-11-{d}": 200.0 for d in range(18, 23)},
    }
    a = Engine(db).ask("billed cost of bert-training between 2026-11-10 and 2026-11-22", TODAY, NOW)
    assert a.total == pytest.approx(8 * 100 + 5 * 200)


def test_duplicate_runs_change_nothing(aws, db, rules):
    queue(page(window_days(date(2026, 11, 17), TODAY)))
    sync_source(db, source(), today=TODAY, now=NOW, rules=rules)

    def state():
        cube = sorted(  # everything but the load id
            db.execute(
                "SELECT dim, key, day, currency, charge_category, billed_cost, effective_cost, "
                "list_cost FROM cube"
            ).fetchall()
        )
        facts = db.execute("SELECT COUNT(*), SUM(billed_cost) FROM charges").fetchone()
        return cube, facts, db.execute("SELECT rows, first_day, last_day FROM sources").fetchall()

    before = state()
    sync_source(db, source(), today=TODAY, now=NOW, rules=rules)
    assert state() == before
    assert before[1] == (12, pytest.approx(630.0))


def test_month_close_pulls_the_whole_previous_month(aws, db, rules):
    today = date(2026, 12, 2)
    november = window_days(date(2026, 11, 1), date(2026, 11, 30))
    december = window_days(date(2026, 12, 1), today)
    queue(page(november), other_charges(november), page(december), other_charges(december))
    result = sync_source(db, source(), today=today, now=NOW, rules=rules)
    assert [(str(w.start), str(w.end)) for w in result.windows] == [
        ("2026-11-01", "2026-11-30"),
        ("2026-12-01", "2026-12-02"),
    ]
    assert result.api_calls == 4  # two queries per window


class Failing:
    """A source that yields one page, then fails: the window must not half-land."""

    name, kind, api_calls = "aws-flaky", "aws_cost_explorer", 0

    def __init__(self, inner):
        self.inner = inner

    def fetch(self, window):
        pages = self.inner.fetch(window)
        yield next(pages)
        self.api_calls = 1
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetCostAndUsage"
        )


def test_a_source_failing_midway_lands_nothing_and_is_recorded(aws, db, rules):
    days = window_days(date(2026, 11, 17), TODAY)
    queue(page(days[:3], token="next-1"), page(days[3:]))
    result = sync_source(db, Failing(source()), today=TODAY, now=NOW, rules=rules)
    assert not result.ok and "ThrottlingException" in result.error
    assert db.execute("SELECT COUNT(*) FROM charges").fetchone()[0] == 0
    error = db.execute("SELECT last_error, last_success_at FROM source_status").fetchone()
    assert "ThrottlingException" in error[0] and error[1] is None


def test_missing_credentials_say_what_to_do(db, rules, monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = sync_source(db, source(), today=TODAY, now=NOW, rules=rules)
    assert not result.ok
    assert "no AWS credentials found" in result.error and "ce:GetCostAndUsage" in result.error


def test_access_denied_names_the_permission(db, rules):
    class DeniedClient:
        def get_cost_and_usage(self, **kw):
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetCostAndUsage"
            )

    class Session:
        def client(self, *a, **kw):
            return DeniedClient()

    result = sync_source(
        db, AwsCostExplorer("aws-prod", Session), today=TODAY, now=NOW, rules=rules
    )
    assert "need the IAM permission ce:GetCostAndUsage" in result.error


def test_one_failing_source_does_not_block_the_next(aws, db, rules, monkeypatch, tmp_path):
    queue(page(window_days(date(2026, 11, 17), TODAY)))
    broken = AwsCostExplorer("aws-broken", lambda: (_ for _ in ()).throw(RuntimeError("bug")))
    results = [sync_source(db, s, today=TODAY, now=NOW, rules=rules) for s in (broken, source())]
    assert [r.ok for r in results] == [False, True]
    assert "unexpected error" in results[0].error


def test_taxes_credits_and_fees_get_their_charge_category(aws, db, rules):
    from finops_bot.store import reads
    from finops_bot.store.reads import Where

    days = window_days(date(2026, 11, 17), TODAY)
    others = [
        ("Tax", "Tax", 3.0),
        ("Credit", "Amazon Elastic Compute Cloud - Compute", -2.0),
        ("Recurring reservation fee", "Amazon Elastic Compute Cloud - Compute", 7.0),
        ("Savings Plan Upfront Fee", "Savings Plans for AWS Compute usage", 1.0),
        ("Something New", "AWS Support (Business)", 0.5),
    ]
    queue(page(days), other_charges(days, others))
    assert sync_source(db, source(), today=TODAY, now=NOW, rules=rules).ok
    span = (days[0], days[-1])
    usage = reads.totals(db, Where(), *span, "BilledCost", categories=("Usage",))
    assert usage["USD"] == pytest.approx(6 * 105.0)
    for category, expected in (
        ("Tax", 3.0),
        ("Credit", -2.0),
        ("Purchase", 8.0),
        ("Adjustment", 0.5),
    ):
        got = reads.totals(db, Where(), *span, "BilledCost", categories=(category,))
        assert got["USD"] == pytest.approx(6 * expected), category
    everything = reads.totals(db, Where(), *span, "BilledCost")
    assert everything["USD"] == pytest.approx(6 * (105.0 + 3 - 2 + 8 + 0.5))
