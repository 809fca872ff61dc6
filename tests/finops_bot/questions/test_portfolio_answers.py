"""Portfolio advice questions: the forms (and the commitment questions they leave alone),
the answer through Engine.ask, its notes and JSON, too few days, daily files, scopes."""

from __future__ import annotations

import json

import pytest

from finops_bot.access import Grant, Scope
from finops_bot.gpu.commitment_prices import TABLE_AS_OF
from finops_bot.questions.engine import Engine
from finops_bot.questions.parse import parse
from finops_bot.render.text import render_text
from tests.conftest import NOW, TODAY
from tests.finops_bot.store.test_instance_hours import import_rows, trough_rows

ASKED = [
    "what should we commit to",
    "commitment advice",
    "portfolio advice",
    "should we buy a savings plan for gpus",
    "what should we move to spot",
    "commitment recommendations for p4d",
    "how much should we commit for the last 60 days",
    "should we buy reserved instances",
    "recommend a savings plan",
]
ELSEWHERE = {
    "savings plan utilization last month": "commitment_utilization",
    "unused commitments": "unused_commitments",
    "commitment purchases this year": "commitment_purchases",
    "which commitments expire": "commitment_expiry",
    "spot vs on-demand for bert-training": "pricing",
}


@pytest.mark.parametrize("question", ASKED)
def test_the_forms(question):
    assert parse(question, TODAY).kind == "portfolio"


@pytest.mark.parametrize("question,kind", ELSEWHERE.items())
def test_other_commitment_questions_are_left_alone(question, kind):
    assert parse(question, TODAY).kind == kind


def test_a_family_asked_is_the_detail():
    assert parse("commitment recommendations for p4d", TODAY).detail == "p4d"
    assert parse("commitment advice for a2 machines", TODAY).detail == "a2"
    assert parse("what should we commit to", TODAY).detail is None


@pytest.fixture
def trough_db(db, tmp_path, rules, monkeypatch):
    import_rows(db, tmp_path, trough_rows(60), rules)
    return db


def test_the_answer_through_the_engine(trough_db):
    a = Engine(trough_db).ask("what should we commit to", TODAY, NOW)
    assert (a.kind, a.unit, a.measure, a.cards) == ("portfolio", "money", None, [])
    keys = [r.key for r in a.rows]
    assert keys[0] == "p4d · commit 2 instances for 1y (baseline 2.0 instances)"
    assert keys[1].startswith("p4d · commit 2 instances for 3y")
    assert keys[-1] == "p4d · stays on demand (monthly cost, not a saving)"
    assert {r.currency for r in a.rows} == {"USD"}
    text = "\n".join(a.notes)
    assert "P10 of hourly instance counts from billing hourly over 60 days" in text
    assert "daily averages is 5.5" in text
    assert "committing to the daily-average P10 (5 instances) instead" in text
    assert f"Discount table of {TABLE_AS_OF}" in text and "https://aws.amazon.com" in text
    assert "no heartbeats from its nodes" in text  # no Spot advice without them
    assert "advice, not a purchase" in a.basis
    assert a.freshness and a.data_through == "2026-10-30"
    assert a.period.days == 60
    data = a.to_dict()
    json.dumps(data)
    assert data["kind"] == "portfolio" and data["unit"] == "money"
    rendered = render_text(a)
    assert "instances for 1y" in rendered and TABLE_AS_OF in rendered


def test_a_family_not_used(trough_db):
    a = Engine(trough_db).ask("commitment recommendations for g5", TODAY, NOW)
    assert a.rows == [] and "No GPU usage of the family g5" in a.nothing
    assert "p4d" in a.nothing


def test_fewer_than_30_days_says_how_many(db, tmp_path, rules, monkeypatch):
    import_rows(db, tmp_path, trough_rows(12), rules)
    a = Engine(db).ask("commitment advice", TODAY, NOW)
    assert a.kind == "portfolio" and a.rows == []
    assert a.nothing.startswith("Only 12 days of data (2026-09-01 … 2026-09-12)")
    assert "at least 30 days" in a.nothing
    assert "Only 12 days" in render_text(a)


def test_daily_files_give_an_upper_bound_labelled(db, tmp_path, rules, monkeypatch):
    import_rows(db, tmp_path, trough_rows(45, hourly=False), rules)
    a = Engine(db).ask("portfolio advice", TODAY, NOW)
    assert "upper bound" in a.rows[0].key
    assert "no hourly data" in a.notes[0] and "UPPER BOUND" in a.notes[0]


def test_an_empty_cache(db):
    a = Engine(db).ask("what should we commit to", TODAY, NOW)
    assert a.kind == "portfolio" and a.rows == [] and "nothing to advise" in a.nothing


def test_a_scoped_audience_is_refused(trough_db):
    bert = Scope((Grant.of({"project": ["bert-training"]}),))
    a = Engine(trough_db).ask("what should we commit to", TODAY, NOW, scope=bert)
    assert a.kind == "refused" and not a.rows


def test_heartbeats_when_billing_is_daily_and_spot_for_resumable_work(
    db, tmp_path, rules, monkeypatch
):
    from datetime import UTC, datetime, timedelta

    from tests.finops_bot.gpu.test_portfolio import heartbeats
    from tests.finops_bot.store.test_instance_hours import START

    import_rows(db, tmp_path, trough_rows(60, 4, 2, hourly=False), rules)
    start = datetime.combine(START + timedelta(days=51), datetime.min.time(), UTC)
    nodes = {"node-a": (0, 24, False), "node-b": (0, 24, False), "node-c": (6, 20, True)}
    heartbeats(db, start, 8, nodes)
    a = Engine(db).ask("what should we move to spot", TODAY, NOW)
    keys = [r.key for r in a.rows]
    assert keys[0] == "p4d · commit 2 instances for 1y (baseline 2.0 instances)"
    assert any(k.startswith("p4d · Spot above the baseline") for k in keys)
    text = "\n".join(a.notes)
    assert "from heartbeats over 8 days" in text and "1 node resume" in text
    assert [f.source for f in a.freshness][-1] == "heartbeats"
