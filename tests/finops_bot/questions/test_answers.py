"""Answers that help: no data this month yet, lagging providers, freshness per provider,
top-N totals, a usage-only pricing mix, questions not understood, the JSON contract."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from finops_bot.ingest.importer import import_file
from finops_bot.questions import Engine
from finops_bot.render.blocks import answer_blocks
from finops_bot.render.json import render_json
from finops_bot.render.text import render_text
from tests.conftest import NOW, TODAY, charge, write_focus


def days(first: date, last: date):
    d = first
    while d <= last:
        yield d.isoformat()
        d += timedelta(days=1)


@pytest.fixture
def lagging(db, rules, tmp_path):
    """AWS data through 2026-11-21; Azure's through 2026-11-10 (a lagging export)."""
    aws = [charge(d, 100, resource="i-1") for d in days(date(2026, 10, 1), date(2026, 11, 21))]
    azure = [
        charge(d, 40, provider="Microsoft", service="Virtual Machines", resource="vm-1")
        for d in days(date(2026, 10, 1), date(2026, 11, 10))
    ]
    import_file(db, write_focus(tmp_path / "aws.csv", aws), rules=rules, now=NOW)
    import_file(db, write_focus(tmp_path / "azure.csv", azure), rules=rules, now=NOW)
    return Engine(db)


def test_a_provider_with_no_data_yet_is_named_and_left_out(lagging):
    a = lagging.ask("total spend this week", TODAY, NOW)  # Mon 16 – Sun 22 Nov
    assert a.total == pytest.approx(6 * 100)
    assert any("Microsoft: no data yet for this week" in n for n in a.notes)
    assert all(r.key != "Virtual Machines" for r in a.rows)  # no ▼ -100% row
    assert a.previous.totals == {"USD": pytest.approx(6 * 100)}  # like for like: AWS alone
    payload = json.loads(render_json(a))
    fresh = {f["provider"]: f["data_through"] for f in payload["freshness"]}
    assert fresh == {"AWS": "2026-11-21", "Microsoft": "2026-11-10"}
    text = render_text(a)
    assert "AWS: data through 2026-11-21" in text and "Microsoft: data through 2026-11-10" in text


def test_freshness_lists_only_the_providers_in_the_answer(lagging):
    a = lagging.ask("service virtual machines in 2026-10", TODAY, NOW)
    assert [f.provider for f in a.freshness] == ["Microsoft"]


def test_no_period_and_nothing_this_month_answers_the_latest_30_days(lagging):
    a = lagging.ask("total spend", date(2026, 12, 1), NOW)
    assert (a.period.start, a.period.end) == (date(2026, 10, 23), date(2026, 11, 21))
    assert "no data for this month yet" in a.notes[0]


def test_top_n_keeps_the_total_of_all_and_adds_rows_total(db, rules, tmp_path):
    rows = [charge("2026-11-02", cost, project=f"p{cost}") for cost in (1, 2, 3, 4, 5, 6, 7)]
    import_file(db, write_focus(tmp_path / "t.csv", rows), rules=rules, now=NOW)
    a = Engine(db).ask("top 3 projects this month", TODAY, NOW)
    payload = a.to_dict()
    assert (payload["total"], payload["rows_total"], payload["more_rows"]) == (28.0, 18.0, 4)
    assert "top 3: $18.00 of $28.00" in render_text(a)
    assert "top 3: $18.00 of $28.00" in json.dumps(answer_blocks(a))


def test_the_pricing_mix_counts_usage_only(db, rules, tmp_path):
    rows = [
        charge("2026-11-02", 30),
        charge("2026-11-02", 10, pricing="Dynamic"),
        charge("2026-11-01", 500, pricing="Standard", category="Purchase"),
        charge("2026-11-01", 9, pricing="Standard", category="Tax"),
    ]
    import_file(db, write_focus(tmp_path / "p.csv", rows), rules=rules, now=NOW)
    a = Engine(db).ask("spot vs on-demand this month", TODAY, NOW)
    assert {r.key: r.cost for r in a.rows} == {"on-demand": 30.0, "spot": 10.0}
    assert a.summed["ChargeCategory"] == ["Usage"]
    assert "Spot is 25% of spot + on-demand usage." in a.notes


@pytest.mark.parametrize(
    "question, first",
    [
        ("what is the weather like in lisbon", "what did project bert-training cost this week"),
        ("did the team thing go up lately", "compare bert-training this week vs last week"),
        ("break it down per thing please", "bert-training by service last 30 days"),
    ],
)
def test_not_understood_suggests_supported_questions_by_shape(lagging, question, first):
    a = lagging.ask(question, TODAY, NOW)
    assert a.kind == "not_understood" and a.total is None
    assert a.suggestions[0] == first
    assert question not in a.message.split("“")[0]  # never shown as a name
    buttons = [b for b in answer_blocks(a) if b["type"] == "actions"][0]["elements"]
    assert [b["value"] for b in buttons] == a.suggestions
    assert all(b["action_id"].startswith("finops_ask_") for b in buttons)


def test_did_you_mean_suggests_the_question_with_the_name(lagging):
    a = lagging.ask("what did project bert-trainig cost this week", TODAY, NOW)
    assert a.kind == "unknown_name" and a.did_you_mean == ["bert-training"]
    assert a.suggestions == ["what did project bert-training cost this week"]


def test_json_carries_unit_summed_and_freshness(lagging):
    payload = json.loads(render_json(lagging.ask("provider aws last month", TODAY, NOW)))
    assert payload["unit"] == "money" and payload["measure"] == "EffectiveCost"
    assert payload["summed"] == {"ProviderName": ["AWS"]}
    assert payload["freshness"][0]["source"].startswith("file:")
    gpu = json.loads(render_json(lagging.ask("which gpus are idle", TODAY, NOW)))
    assert (gpu["unit"], gpu["measure"]) == ("money_per_hour", None)
    assert "node list price" in gpu["basis"]


def test_a_period_after_the_data_shows_no_minus_100_rows(lagging):
    a = lagging.ask("total spend this week", date(2026, 11, 30), NOW)  # a Monday, data to 21st
    assert (a.totals, a.rows, a.previous) == ({}, [], None)
    assert "Nothing is known about this period yet" in render_text(a)
    assert a.suggestions == ["total spend last week"]


@pytest.mark.parametrize(
    "question",
    ["compare total spend last month vs this month", "compare total spend october vs november"],
)
def test_a_comparison_is_always_of_the_later_period_against_the_earlier(lagging, question):
    a = lagging.ask(question, date(2026, 11, 22), NOW)
    assert a.period.start > a.previous.period.start
    if "this month" in question:  # like for like: November so far against October's same days
        assert a.previous.period.end == date(2026, 10, 21)


def test_periods_before_the_data_say_so_and_compare_with_nothing(lagging):
    a = lagging.ask("total spend in 2025-10", TODAY, NOW)
    assert a.nothing == "No data for this period: the data starts on 2026-10-01." and not a.rows
    a = lagging.ask("total spend this month", TODAY, NOW)  # November; October is in the data
    assert a.previous is not None
    a = lagging.ask("total spend since 2026-10-01", TODAY, NOW)  # compared with September
    assert a.previous is None and all(r.previous_cost is None for r in a.rows)
    assert any("No comparison: the data starts on 2026-10-01" in n for n in a.notes)
