"""The forward-looking question forms (forecast, run rate, live burn, budgets) on the demo
cache as of its build day: the parser's readings, the figures against independent SQL over
``focus_charges``, the demo's budgets (nlp at risk) under access scopes, and both
renderers within Slack's limits."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from slack_sdk.models.blocks import Block

from finops_bot.access import scope_from_pairs
from finops_bot.demo import demo_budgets, load_demo
from finops_bot.demo_fleet import load_fleet
from finops_bot.ingest.tags import TagRules
from finops_bot.questions import Engine
from finops_bot.questions.parse import parse
from finops_bot.render.blocks import answer_blocks
from finops_bot.render.outlook import status_lines
from finops_bot.render.text import render_text
from finops_bot.store import connect
from tests.conftest import NOW, TODAY

THROUGH = "2026-11-21"  # the demo bills through the day before its build day
NOVEMBER = ("2026-11-01", "2026-11-30")
DEMO_BUDGETS = {"nlp", "vision", "bert-training", "all-spend"}
NLP = scope_from_pairs(["teams=nlp"])
VISION = scope_from_pairs(["teams=vision"])
OUTLOOK_KINDS = {"forecast", "run_rate", "budget", "burn_now"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    path = tmp_path_factory.mktemp("outlook") / "demo.db"
    db = connect(path)
    load_demo(db, TODAY, NOW, TagRules({"project": ("project",), "team": ("team",),
                                        "owner": ("owner",)}))  # fmt: skip
    load_fleet(db, NOW)  # an hour of GPU heartbeats ending at NOW: the live burn
    yield Engine(db, budgets=demo_budgets())
    db.close()


def ask(engine, question, scope=None):
    return engine.ask(question, TODAY, NOW, scope=scope)


def sql(engine, where: str = "1", first=NOVEMBER[0], last=THROUGH, usage_only=False, params=()):
    """EffectiveCost summed straight from the ``focus_charges`` view (not the read path)."""
    usage = " AND ChargeCategory = 'Usage'" if usage_only else ""
    (total,) = engine.db.execute(
        "SELECT SUM(EffectiveCost) FROM focus_charges WHERE BillingCurrency = 'USD' AND "
        f"ChargeDay BETWEEN ? AND ?{usage} AND ({where})",
        (first, last, *params),
    ).fetchone()
    return total or 0.0


# ---- the parser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "kind", "fields"),
    [
        ("forecast this month", "forecast", {"granularity": "month", "name": None}),
        ("forecast for bert-training this month", "forecast",
         {"granularity": "month", "name": "bert-training"}),
        ("where will team nlp end the quarter", "forecast",
         {"granularity": "quarter", "dim": "team", "name": "nlp"}),
        ("run rate", "run_rate", {"name": None}),
        ("burn rate", "run_rate", {"name": None}),
        ("run rate for team nlp", "run_rate", {"dim": "team", "name": "nlp"}),
        ("what are we burning right now", "burn_now", {"name": None}),
        ("how much are we spending per hour", "burn_now", {"name": None}),
        ("budget for nlp", "budget", {"name": "nlp", "by": None}),
        ("are we on budget", "budget", {"name": None, "by": None}),
        ("which budgets are at risk", "budget", {"name": None, "by": "risk"}),
        ("how much budget is left for bert-training", "budget",
         {"name": "bert-training", "by": "left"}),
        ("when will nlp hit its budget", "budget", {"name": "nlp", "by": "when"}),
    ],
)  # fmt: skip
def test_the_parser_reads_each_outlook_form(question, kind, fields):
    q = parse(question, TODAY)
    assert q.kind == kind
    for key, value in fields.items():
        assert getattr(q, key) == value, key


@pytest.mark.parametrize(
    "question",
    [
        "cost last month",
        "top 5 projects last month",
        "cost for project bert-training",
        "compare llm-finetune this week vs last week",
        "which team spends the most this month",
        "spend on project rate-limiter last month",
        "daily spend for llm-finetune last 14 days",
    ],
)
def test_ordinary_questions_are_not_taken_by_the_outlook_forms(question):
    assert parse(question, TODAY).kind not in OUTLOOK_KINDS


def test_a_why_question_saying_end_up_is_not_a_forecast():
    assert parse("why did bert-training end up so high last month", TODAY).kind == "why"


def test_a_project_whose_name_holds_budget_is_a_cost_question():
    q = parse("cost for project budget-tracker last month", TODAY)
    assert (q.kind, q.name) == ("cost", "budget-tracker")


# ---- forecasts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "start", "end", "where", "budget_line"),
    [
        ("forecast this month", *NOVEMBER, "1", None),  # all-spend's budget is a quarter's
        ("forecast for bert-training this month", *NOVEMBER, "project = 'bert-training'",
         60000.0),
        ("where will team nlp end the quarter", "2026-10-01", "2026-12-31", "team = 'nlp'",
         None),  # nlp's budget is a month's
        ("forecast this quarter", "2026-10-01", "2026-12-31", "1", 650000.0),
    ],
)  # fmt: skip
def test_forecast_answers(engine, question, start, end, where, budget_line):
    a = ask(engine, question)
    assert a.kind == "forecast" and a.nothing is None
    d = a.to_dict()
    f = d["forecast"]
    assert f is not None and f["currency"] == "USD"
    assert d["total"] == f["total"] and a.totals == {"USD": pytest.approx(f["total"])}
    assert f["low"] <= f["total"] <= f["high"]
    assert f["interval"] == 0.8 and f["method"] and f["reason"] is None
    assert (f["as_of"], f["data_through"]) == (TODAY.isoformat(), THROUGH)
    assert (d["period"]["start"], d["period"]["end"]) == (start, end)
    assert d["budget_line"] == budget_line
    # what is billed so far (usage and one-offs) is the independent sum of the period
    assert f["actual"] == pytest.approx(sql(engine, where, start), abs=0.01)
    usage = sql(engine, where, start, usage_only=True)
    elapsed = (date.fromisoformat(THROUGH) - date.fromisoformat(start)).days + 1
    length = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
    pace = usage / elapsed * length + f["one_offs"]
    assert f["mtd_pace"] == pytest.approx(pace, abs=0.01)
    assert f["total"] >= f["actual"] - abs(f["one_offs"])  # a forecast of a total to come
    assert d["live_estimate"] is not None and d["live_estimate"]["nodes"] > 0
    text = render_text(a)
    assert "80% interval" in text and f"billed through {THROUGH}".lower() in text.lower()
    json.dumps(d)


def test_a_forecast_of_a_past_period_is_a_clear_error_not_a_number(engine):
    a = ask(engine, "forecast last month")
    assert a.kind == "error" and not a.totals and not a.forecasts
    assert "current month or quarter" in a.message and "November 2026" in a.message
    assert "cost last month" in a.message  # what to ask instead
    d = a.to_dict()
    assert d["total"] is None and d["forecast"] is None
    assert "$" not in render_text(a)


# ---- the run rate and the live burn ----------------------------------------------------


@pytest.mark.parametrize(
    ("question", "where"),
    [("run rate", "1"), ("burn rate", "1"), ("run rate for team nlp", "team = 'nlp'")],
)
def test_the_run_rate_against_an_independent_sum_to_the_cent(engine, question, where):
    a = ask(engine, question)
    assert a.kind == "run_rate"
    usage = sql(engine, where, "2026-11-15", THROUGH, usage_only=True)  # the last 7 billed days
    expected = usage / 7 * 30  # × the days in November
    assert abs(a.totals["USD"] - expected) < 0.005
    assert "15–21 Nov 2026" in a.basis and "30 days" in a.basis
    assert a.to_dict()["forecast"] is None  # a run rate is not a forecast


def test_run_rate_and_burn_rate_are_the_same_thing(engine):
    assert ask(engine, "run rate").totals == ask(engine, "burn rate").totals


def test_the_live_burn_is_per_hour_from_heartbeats(engine):
    now_a = ask(engine, "what are we burning right now")
    hour = ask(engine, "how much are we spending per hour")
    for a in (now_a, hour):
        assert (a.kind, a.unit, a.fresh_from) == ("burn_now", "money_per_hour", "heartbeats")
        assert a.total and a.total > 0
    assert now_a.totals == hour.totals
    # nothing like the run rate (a month of billed usage)
    assert now_a.total < ask(engine, "run rate").total / 100


# ---- budgets ---------------------------------------------------------------------------


def names(answer) -> list[str]:
    return [s.budget.name for s in answer.budgets]


def test_are_we_on_budget_lists_the_four_demo_budgets_nlp_at_risk(engine):
    a = ask(engine, "are we on budget")
    assert a.kind == "budget" and set(names(a)) == DEMO_BUDGETS
    assert [s.budget.name for s in a.budgets if s.at_risk] == ["nlp"]
    assert a.title == "Budgets: 1 of 4 at risk"
    d = a.to_dict()
    assert {b["name"] for b in d["budgets"]} == DEMO_BUDGETS
    nlp = next(b for b in d["budgets"] if b["name"] == "nlp")
    assert nlp["forecast_over"] and nlp["forecast"]["total"] >= nlp["amount"]
    assert nlp["spent"] == pytest.approx(sql(engine, "team = 'nlp'"), abs=0.01)
    everything = next(b for b in d["budgets"] if b["name"] == "all-spend")
    assert everything["period"]["start"] == "2026-10-01"  # a quarter's budget
    assert everything["spent"] == pytest.approx(sql(engine, "1", "2026-10-01"), abs=0.01)


def test_which_budgets_are_at_risk_shows_only_nlp(engine):
    a = ask(engine, "which budgets are at risk")
    assert names(a) == ["nlp"]
    text = render_text(a)
    assert "vision" not in text and "all-spend" not in text and "over budget" in text


def test_budget_for_nlp_and_when_it_hits(engine):
    a = ask(engine, "budget for nlp")
    assert names(a) == ["nlp"] and a.title == "Budget nlp — at risk"
    when = ask(engine, "when will nlp hit its budget")
    (s,) = when.budgets
    assert s.hits_on is not None and TODAY <= s.hits_on <= date(2026, 11, 30)
    assert f"reaches the budget on {s.hits_on}" in render_text(when)


def test_how_much_budget_is_left(engine):
    a = ask(engine, "how much budget is left for bert-training")
    (s,) = a.budgets
    spent = sql(engine, "project = 'bert-training'")
    assert s.spent == pytest.approx(spent, abs=0.01)
    assert s.left == pytest.approx(60000 - spent, abs=0.01)
    assert a.to_dict()["budgets"][0]["left"] == pytest.approx(60000 - spent, abs=0.01)


def test_a_team_scope_sees_only_its_own_budgets(engine):
    a = ask(engine, "are we on budget", NLP)
    shown = set(names(a))
    assert "nlp" in shown and not shown & {"vision", "all-spend"}
    assert shown <= {"nlp", "bert-training"}  # bert-training is a project of team nlp
    text = render_text(a) + json.dumps(answer_blocks(a)) + json.dumps(a.to_dict())
    assert "vision" not in text and "all-spend" not in text


def test_another_team_asking_for_nlp_gets_no_nlp_figures(engine):
    open_nlp = ask(engine, "budget for nlp").budgets[0]
    a = ask(engine, "budget for nlp", VISION)
    assert a.budgets == [] and a.to_dict()["budgets"] == []
    text = render_text(a) + json.dumps(answer_blocks(a))
    for figure in (open_nlp.spent, open_nlp.amount, open_nlp.forecast.total):
        assert f"{figure:,.2f}" not in text
    assert "llm-finetune" not in text  # nor what drives it


def test_no_such_budget_says_so_and_names_the_visible_ones(engine):
    a = ask(engine, "budget for nosuch")
    assert a.budgets == [] and "No budget for 'nosuch'" in a.nothing
    assert all(n in a.nothing for n in DEMO_BUDGETS)
    scoped = ask(engine, "budget for nosuch", VISION)
    assert scoped.nothing.endswith("Budgets here: vision.")


def test_a_budget_question_for_a_past_period_does_not_silently_answer_this_one(engine):
    a = ask(engine, "budget for nlp last month")
    text = render_text(a)
    assert a.kind == "error" or "October" in text or "last month" in text


def test_when_for_a_budget_that_stays_under_says_it_does_not_hit(engine):
    a = ask(engine, "when will bert-training hit its budget")
    (s,) = a.budgets
    assert s.hits_on is None  # the forecast stays under the amount
    assert re.search(r"\b(?:reach|hit)", "\n".join(status_lines(a.budgets)))


def test_a_forecast_of_next_month_is_not_a_name_lookup(engine):
    a = ask(engine, "forecast for bert-training next month")
    assert "bert-training next" not in render_text(a)


# ---- the renderers ---------------------------------------------------------------------

RENDERED = [
    ("forecast this month", None),
    ("forecast for bert-training this month", None),
    ("where will team nlp end the quarter", None),
    ("forecast last month", None),
    ("run rate", None),
    ("burn rate", None),
    ("what are we burning right now", None),
    ("how much are we spending per hour", None),
    ("budget for nlp", None),
    ("are we on budget", None),
    ("which budgets are at risk", None),
    ("how much budget is left for bert-training", None),
    ("when will nlp hit its budget", None),
    ("budget for nosuch", None),
    ("are we on budget", NLP),
    ("budget for nlp", VISION),
    ("forecast this month", NLP),
]


@pytest.mark.parametrize(("question", "scope"), RENDERED)
def test_both_renderers_and_slack_limits(engine, question, scope):
    a = ask(engine, question, scope)
    text = render_text(a)
    assert text.strip()
    blocks = answer_blocks(a, share='{"q": "x", "d": "2026-11-22"}')
    assert 0 < len(blocks) <= 50
    for block in blocks:
        Block.parse(block).validate_json()  # slack_sdk's own Block Kit limits
    assert len(json.dumps(blocks)) < 40_000
    json.dumps(a.to_dict())
    if a.kind == "budget" and a.budgets:  # every status shows in both
        for s in a.budgets:
            assert s.budget.name in text and s.budget.name in json.dumps(blocks)


@pytest.mark.parametrize(
    "question", ["how are we tracking against budget", "how are we doing on budget"]
)
def test_plain_budget_questions_name_no_budget(question):
    from datetime import date as _date

    from finops_bot.questions.parse import parse as _parse

    q = _parse(question, _date(2026, 11, 22))
    assert (q.kind, q.name) == ("budget", None)
