"""Query → Answer over a real cache built by the importer from generated FOCUS files."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_bot.ingest.importer import import_file
from finops_bot.questions import Engine
from finops_bot.render.json import render_json
from finops_bot.render.text import render_text
from tests.conftest import NOW, TODAY, charge, write_focus


def days(first: str, last: str):
    d = date.fromisoformat(first)
    while d <= date.fromisoformat(last):
        yield d.isoformat()
        d += timedelta(days=1)


@pytest.fixture
def engine(db, rules, tmp_path):
    rows = []
    for d in days("2026-10-01", "2026-11-21"):
        rows.append(charge(d, 200, project="llm-finetune", team="nlp", owner="bob", resource="i-l"))
        rows.append(charge(d, 10, project=None, resource="i-forgotten"))
        if d >= "2026-11-01":
            rows.append(charge(d, 100, team="nlp", owner="alice", resource="i-b"))
            rows.append(charge(d, 20, pricing="Dynamic", resource="i-b-spot", owner="alice"))
            rows.append(
                charge(
                    d,
                    5,
                    service="Amazon Simple Storage Service",
                    resource="s3-b",
                    region="us-west-2",
                )
            )
            rows.append(
                charge(
                    d,
                    50,
                    project="euro-proj",
                    currency="EUR",
                    provider="Microsoft",
                    service="Virtual Machines",
                    account="sub-1",
                    resource="vm-1",
                )
            )
            rows.append(
                charge(
                    d,
                    0,
                    effective=30,
                    project="llm-finetune",
                    pricing="Committed",
                    resource="i-l-ri",
                    account="222",
                )
            )
    rows.append(charge("2026-11-03", -5, project="llm-finetune", category="Credit", resource="i-l"))
    rows.append(charge("2026-11-02", 1, project="BERT Training", resource="i-x"))
    import_file(db, write_focus(tmp_path / "org.csv", rows), rules=rules, now=NOW)
    return Engine(db)


def ask(engine, question, today=TODAY):
    answer = engine.ask(question, today, NOW)
    # every answer renders in both forms and says how fresh the data is
    text = render_text(answer)
    payload = json.loads(render_json(answer))
    assert payload["data_through"] == "2026-11-21"
    if answer.has_number:
        assert "Data through 2026-11-21" in text
    return answer


def test_project_this_week(engine):
    a = ask(engine, "what did project bert-training cost this week")
    # Mon 16 .. Sat 21 have data: 6 x (100 + 20 + 5)
    assert (a.kind, a.currency, a.total) == ("cost", "USD", 750.0)
    assert (a.period.start, a.period.end) == (date(2026, 11, 16), date(2026, 11, 22))
    assert a.filters == {"project": "bert-training"}
    assert a.measure == "EffectiveCost"
    assert any("Partial" in n for n in a.notes)
    # like for like: last week cut to the same 6 days (Mon 9 .. Sat 14)
    assert a.previous.period.end == date(2026, 11, 14)
    assert a.previous.totals == {"USD": 750.0}
    assert [r.key for r in a.rows] == [
        "Amazon Elastic Compute Cloud",
        "Amazon Simple Storage Service",
    ]


@pytest.mark.parametrize("spelling", ["bert_training", "BERT Training", "Bert-Training"])
def test_names_fold_to_what_the_cache_knows(engine, spelling):
    a = ask(engine, f"project {spelling} on 2026-11-02")
    # the "BERT Training" tag spelling and "bert-training" are one project
    assert a.total == 126.0
    assert a.filters == {"project": "bert-training"}


def test_unknown_name_gets_a_suggestion_and_no_number(engine):
    a = ask(engine, "what did project bert-trainin cost this week")
    assert a.kind == "unknown_name"
    assert "No project named 'bert-trainin'" in a.message
    assert "Did you mean 'bert-training'" in a.message
    payload = a.to_dict()
    assert payload["total"] is None and payload["rows"] == []


def test_each_dimension(engine):
    assert ask(engine, "team nlp yesterday").total == 200 + 100
    assert ask(engine, "owner alice yesterday").total == 120
    assert ask(engine, "service ec2 yesterday").total == 200 + 10 + 120 + 30
    assert ask(engine, "account acct-222 yesterday").total == 30
    assert ask(engine, "region us-west-2 yesterday").total == 5
    assert ask(engine, "provider azure yesterday").totals == {"EUR": 50.0}
    assert ask(engine, "cost of llm-finetune on 2026-11-03").total == 200 + 30 - 5


def test_total_spend_never_adds_currencies(engine):
    a = ask(engine, "total spend yesterday")
    assert a.kind == "total"
    assert a.totals == {"USD": 365.0, "EUR": 50.0}
    payload = a.to_dict()
    assert (payload["currency"], payload["total"]) == (None, None)
    assert {t["currency"] for t in payload["totals"]} == {"USD", "EUR"}
    assert "never added together" in render_text(a)


def test_top_projects_ranked_within_each_currency(engine):
    a = ask(engine, "top 2 projects in 2026-11")
    usd = [(r.key, r.cost) for r in a.rows if r.currency == "USD"]
    eur = [(r.key, r.cost) for r in a.rows if r.currency == "EUR"]
    assert usd == [("llm-finetune", 21 * 230 - 5), ("bert-training", 21 * 125 + 1)]
    assert eur == [("euro-proj", 21 * 50)]


def test_top_includes_untagged_visibly(engine):
    a = ask(engine, "top 10 projects last month")
    assert [r.key for r in a.rows] == ["llm-finetune", "(untagged)"]


def test_breakdown_by_service(engine):
    a = ask(engine, "bert-training by service last 7 days")
    assert a.kind == "breakdown"
    assert [(r.key, r.cost) for r in a.rows] == [
        ("Amazon Elastic Compute Cloud", 840.0),
        ("Amazon Simple Storage Service", 35.0),
    ]


def test_compare(engine):
    a = ask(engine, "compare llm-finetune this month vs last month")
    assert a.kind == "compare"
    # Nov 1-21 (data end) vs Oct 1-21
    assert a.total == 21 * 230 - 5
    assert a.previous.period.start == date(2026, 10, 1)
    assert a.previous.period.end == date(2026, 10, 21)
    assert a.previous.totals == {"USD": 21 * 200}
    assert a.to_dict()["previous"]["change_pct"] == pytest.approx(
        (4825 - 4200) / 4200 * 100, abs=0.01
    )


def test_untagged(engine):
    a = ask(engine, "untagged spend this month")
    assert (a.kind, a.total) == ("untagged", 210.0)
    assert any("% of all USD spend" in n for n in a.notes)


def test_spot_vs_on_demand(engine):
    a = ask(engine, "spot vs on-demand for bert-training last 7 days")
    assert {r.key: r.cost for r in a.rows} == {"on-demand": 7 * 105 + 0, "spot": 140.0}
    assert any("Spot is" in n for n in a.notes)


def test_billed_cost_switches_the_measure(engine):
    effective = ask(engine, "project llm-finetune yesterday")
    billed = ask(engine, "billed cost of project llm-finetune yesterday")
    assert (effective.total, billed.total) == (230.0, 200.0)
    assert billed.measure == "BilledCost"
    assert "BilledCost" in render_text(billed)


def test_negative_credits_reduce_cost(engine):
    assert ask(engine, "billed cost of llm-finetune on 2026-11-03").total == 195.0


def test_empty_period_and_period_after_the_data(engine):
    a = ask(engine, "bert-training in 2026-09")  # before the data starts: no data, not no spend
    assert (a.kind, a.totals, a.total) == ("cost", {}, None)
    assert "No data for this period: the data starts on 2026-10-01" in render_text(a)
    a = ask(engine, "bert-training today")
    assert "Nothing is known about this period yet" in render_text(a)


def test_default_period_is_this_month_and_says_so(engine):
    a = ask(engine, "bert-training")
    assert a.period.label == "this month"
    assert "No period given" in " ".join(a.notes)


@pytest.mark.parametrize("question", ["help", "", "what can you do"])
def test_help_and_not_understood(engine, question):
    a = ask(engine, question)
    assert a.kind in ("help", "unknown_name")
    assert a.suggestions


def test_bad_period_answers_with_the_reason(engine):
    a = ask(engine, "bert-training between 2026-11-09 and 2026-11-01")
    assert a.kind == "error"
    assert "before it starts" in a.message


def test_empty_cache(db):
    a = Engine(db).ask("top 5 projects this week", TODAY, NOW)
    assert a.kind == "empty"
    assert "python -m bot demo" in a.message


def test_json_contract(engine):
    payload = json.loads(render_json(ask(engine, "compare bert-training this week vs last week")))
    for key in (
        "question",
        "kind",
        "period",
        "filters",
        "measure",
        "currency",
        "total",
        "rows",
        "previous",
        "data_through",
        "suggestions",
    ):
        assert key in payload
    assert set(payload["period"]) == {"start", "end", "label"}
    assert set(payload["rows"][0]) >= {"key", "cost"}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=80))
def test_no_question_raises(engine, text):
    answer = engine.ask(text, TODAY, NOW)
    render_text(answer)
    render_json(answer)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(
            [
                "top",
                "3",
                "project",
                "by",
                "service",
                "vs",
                "compare",
                "since",
                "monday",
                "between",
                "and",
                "2026-11-01",
                "last",
                "week",
                "spot",
                "on-demand",
                "untagged",
                "billed",
                "cost",
                "nov",
                "bert-training",
                "of",
            ]
        ),
        max_size=8,
    )
)
def test_no_word_salad_raises(engine, words):
    render_text(engine.ask(" ".join(words), TODAY, NOW))
