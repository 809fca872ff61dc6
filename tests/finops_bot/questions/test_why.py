"""“Why did X go up” and “anomalies this week”, on the demo cache with its detection results
stored: the decomposition adds up to the change an independent SQL sum finds (to the cent),
the planted spike is explained by EC2 and named with its stored anomaly, anomalies are
read from the store (largest first, alerts only), a scoped person sees neither an anomaly
nor a contributor outside the scope, and every earlier phrasing still parses as before."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from finops_bot.access import Grant, Scope
from finops_bot.anomalies.rules import AnomalyRules
from finops_bot.anomalies.run import find, save
from finops_bot.days import day_number
from finops_bot.demo import load_demo
from finops_bot.ingest.tags import TagRules
from finops_bot.questions import Engine
from finops_bot.questions import why_answers as why
from finops_bot.questions.cost_answers import Ctx
from finops_bot.questions.parse import parse
from finops_bot.render.blocks import answer_blocks
from finops_bot.render.text import render_text
from finops_bot.store import anomalies as stored
from finops_bot.store import connect
from finops_bot.store.reads import Where
from tests.conftest import NOW, TODAY

TAGS = TagRules({"project": ("project",), "team": ("team",), "owner": ("owner",)})
THROUGH = date(2026, 11, 21)  # what `python -m bot anomalies` detects through on TODAY
VISION = Scope((Grant.of({"team": ["vision"]}),), contact="#finops-help")
NLP = Scope((Grant.of({"team": ["nlp"]}),), contact="#finops-help")
EC2 = "Amazon Elastic Compute Cloud"


def _demo(path):
    db = connect(path)
    load_demo(db, TODAY, NOW, TAGS)
    return db


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    db = _demo(tmp_path_factory.mktemp("why") / "demo.db")
    rules = AnomalyRules()
    save(db, find(db, rules, THROUGH), rules.dimensions, NOW, "EffectiveCost")
    yield Engine(db)
    db.close()


def ask(engine, question, scope=None):
    return engine.ask(question, TODAY, NOW, scope=scope)


def sql_usage(engine, where_sql, start, end, params=()):
    """Usage in USD summed from the fact table, not through the read path."""
    row = engine.db.execute(
        "SELECT COALESCE(SUM(c.effective_cost), 0) FROM charges c JOIN charge_keys k "
        "ON k.id = c.key_id WHERE c.day BETWEEN ? AND ? AND k.charge_category = 'Usage' "
        f"AND k.currency = 'USD' AND ({where_sql})",
        (day_number(start), day_number(end), *params),
    ).fetchone()
    return row[0]


def sql_change(engine, answer, where_sql, params=()):
    now, before = answer.period, answer.previous.period
    return sql_usage(engine, where_sql, now.start, now.end, params) - sql_usage(
        engine, where_sql, before.start, before.end, params
    )


# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "kind", "dim", "name", "by", "period", "previous"),
    [
        ("why did bert-training go up yesterday", "why", None, "bert-training", "up",
         "yesterday", None),
        ("why did costs go up last week", "why", None, None, "up", "last week", None),
        ("what changed for team nlp this month vs last month", "why", "team", "nlp", None,
         "this month", "last month"),
        ("what changed for team nlp last month vs this month", "why", "team", "nlp", None,
         "this month", "last month"),
        ("what drove the increase in llm-finetune", "why", None, "llm-finetune", "up", None,
         None),
        ("why did llm-finetune go down last week", "why", None, "llm-finetune", "down",
         "last week", None),
        ("Why is data-pipeline so high this week?", "why", None, "data-pipeline", "up",
         "this week", None),
        ("why did my spend go up", "why", "owner", "@me", "up", None, None),
        ("why did gpu spend go up last month", "why", "gpu", "*", "up", "last month", None),
        ("anomalies this week", "anomalies", None, None, None, "this week", None),
        ("any anomalies?", "anomalies", None, None, None, None, None),
        ("anomalies last month", "anomalies", None, None, None, "last month", None),
        ("anomalies for team nlp", "anomalies", "team", "nlp", None, None, None),
        ("show me anomalies for bert-training since 2026-09-01", "anomalies", None,
         "bert-training", None, "since 2026-09-01", None),
    ],
)  # fmt: skip
def test_why_and_anomaly_phrasings(question, kind, dim, name, by, period, previous):
    q = parse(question, TODAY)
    assert (q.kind, q.dim, q.name, q.by) == (kind, dim, name, by)
    assert (q.period.label if q.period else None) == period
    assert (q.previous.label if q.previous else None) == previous


@pytest.mark.parametrize(
    ("question", "kind", "dim", "name"),
    [
        ("what grew the most this week", "movers", None, None),
        ("what changed this week", "movers", None, None),
        ("what moved last month", "movers", None, None),
        ("biggest drop last week", "movers", None, None),
        ("which project increased the most this week", "movers", None, None),
        ("compare bert-training this week vs last week", "compare", None, "bert-training"),
        ("bert-training week over week", "compare", None, "bert-training"),
        ("compare this month to last month", "compare", None, None),
        ("aws vs gcp last month", "compare_subjects", None, "aws"),
        ("top 5 projects this month", "top", None, None),
        ("which team spends the most", "top", None, None),
        ("daily spend for bert-training last 7 days", "series", None, "bert-training"),
        ("cost trend for rlhf-ppo", "series", None, "rlhf-ppo"),
        ("spot vs on-demand for llm-finetune this month", "pricing", None, "llm-finetune"),
        ("untagged spend this month", "untagged", None, None),
        ("list projects", "names", None, None),
        ("which GPUs are idle", "idle_gpus", None, None),
        ("idle gpu cost by owner last 7 days", "idle_cost", None, None),
        ("total spend this month", "total", None, None),
        ("did the team thing go up lately", "cost", "team", "thing go up lately"),
        ("bert-training by service last 30 days", "breakdown", None, "bert-training"),
        ("what did aws cost last month", "cost", None, "aws"),
        ("my spend this month", "cost", "owner", "@me"),
        ("gpu spend by team", "breakdown", "gpu", "*"),
        ("tag app web last month", "cost", "tag:app", "web"),
        ("help", "help", None, None),
    ],
)
def test_earlier_phrasings_parse_as_before(question, kind, dim, name):
    q = parse(question, TODAY)
    assert (q.kind, q.dim, q.name) == (kind, dim, name)


# --- why -------------------------------------------------------------------------------

CASES = [
    ("why did llm-finetune go up on 2026-11-02", "k.project = 'llm-finetune'"),
    ("why did costs go up last week", "1"),
    ("what changed for team nlp this month vs last month", "k.team = 'nlp'"),
    ("why did aws go down last month", "k.provider = 'AWS'"),
]


@pytest.mark.parametrize(("question", "where_sql"), CASES)
def test_the_decomposition_adds_up_to_the_change_to_the_cent(engine, question, where_sql):
    answer = ask(engine, question)
    assert answer.kind == "why" and answer.currency == "USD"
    change = sql_change(engine, answer, where_sql)
    assert round(answer.total - answer.previous.totals["USD"], 2) == round(change, 2)
    terms = {dim: list(values) for dim, values in _terms(answer).items()}
    ctx = Ctx(engine.db, engine.names(), "EffectiveCost", {}, [], Where())
    parts = why.decompose(ctx, Where.of(terms), answer.period, answer.previous.period, "USD")
    assert set(parts) >= {"service", "account", "region", "resource", "pricing"}
    for dim, rows in parts.items():
        total = sum(r.cost - (r.previous_cost or 0.0) for r in rows)
        assert round(total, 2) == round(change, 2), dim
    for note in (n for n in answer.notes if n.startswith("By ")):  # what is shown adds up
        shown = [float(s + v.replace(",", "")) for s, v in re.findall(r"([+-]?)\$([\d,.]+)", note)]
        assert abs(sum(shown) - change) <= 0.005 * len(shown) + 1e-9, note


def _terms(answer):
    columns = {"Tags.project": "project", "Tags.team": "team", "ProviderName": "provider"}
    return {columns[c]: v for c, v in answer.summed.items() if c in columns}


def test_the_spike_is_ec2_and_its_stored_anomaly_is_named(engine):
    answer = ask(engine, "why did llm-finetune go up on 2026-11-02")
    assert (answer.period.start, answer.previous.period.start) == (
        date(2026, 11, 2),
        date(2026, 11, 1),
    )
    services = [r for r in answer.rows if r.key.startswith("service ")]
    assert services[0].key == f"service {EC2}"
    change = answer.total - answer.previous.totals["USD"]
    assert change > 7000 and services[0].cost > 0.95 * change
    ec2 = sql_change(engine, answer, "k.project = 'llm-finetune' AND k.service_name = ?", (EC2,))
    assert round(services[0].cost, 2) == round(ec2, 2)
    spike = next(a for a in stored.stored(engine.db) if a.key == "llm-finetune")
    assert any(spike.id in n and "spike" in n and "2026-11-02" in n for n in answer.notes)
    assert answer.summed["ChargeCategory"] == ["Usage"]
    assert any(n.startswith("Usage charges only") for n in answer.notes)
    text = render_text(answer)
    assert f"service {EC2}" in text and "+$" in text
    assert json.loads(json.dumps(answer.to_dict()))["kind"] == "why"
    assert answer_blocks(answer)[0]["type"] == "header"


def test_a_fall_is_explained_and_a_wrong_direction_is_said(engine):
    fall = ask(engine, "why did llm-finetune go down on 2026-11-03")
    assert fall.total < fall.previous.totals["USD"]
    assert fall.rows[0].key == f"service {EC2}" and fall.rows[0].cost < 0
    wrong = ask(engine, "why did llm-finetune go down on 2026-11-02")
    assert any(n.startswith("It went up, not down") for n in wrong.notes)


def test_no_period_is_the_last_7_days_and_points_at_the_latest_anomaly(engine):
    answer = ask(engine, "what drove the increase in llm-finetune")
    assert (answer.period.start, answer.period.end) == (date(2026, 11, 15), date(2026, 11, 21))
    before = answer.previous.period
    assert (before.start, before.end) == (date(2026, 11, 8), date(2026, 11, 14))
    assert answer.suggestions[0] == "why did project llm-finetune go up on 2026-11-02"
    assert parse(answer.suggestions[0], TODAY).kind == "why"


def test_this_month_is_compared_like_for_like(engine):
    answer = ask(engine, "what changed for team nlp this month vs last month")
    before = answer.previous.period
    assert (before.start, before.end) == (date(2026, 10, 1), date(2026, 10, 21))
    assert any("like for like" in n for n in answer.notes)


def test_names_behave_like_other_questions(engine):
    typo = ask(engine, "why did bert-trainig go up last week")
    assert typo.kind == "unknown_name" and typo.did_you_mean == ["bert-training"]
    assert typo.suggestions == ["why did bert-training go up last week"]
    assert ask(engine, "why did tag app web go up").kind == "error"


# --- anomalies -------------------------------------------------------------------------


def test_anomalies_are_the_stored_alerts_largest_first(engine):
    answer = ask(engine, "anomalies since 2026-09-01")
    assert answer.kind == "anomalies"
    keys = [r.key for r in answer.rows]
    assert keys == [
        "project llm-finetune · spike since 2026-11-02",
        "project vision-research · level shift since 2026-10-08",
        f"account {engine.names().label('account', ['555566667777'])} · level shift since "
        "2026-09-23",
    ]
    impacts = {a.key: a.impact for a in stored.stored(engine.db) if a.part_of is None}
    assert round(answer.rows[0].cost, 6) == round(impacts["llm-finetune"], 6)
    assert answer.total is None and answer.to_dict()["rows"][0]["currency"] == "USD"
    assert any("Top cause: resource" in n for n in answer.notes)
    assert parse(answer.suggestions[0], TODAY).kind == "why"


def test_anomalies_by_period_and_subject(engine):
    assert [r.key for r in ask(engine, "anomalies last month").rows] == [
        "project vision-research · level shift since 2026-10-08"
    ]
    this_month = ask(engine, "anomalies for team nlp this month")
    assert [r.key for r in this_month.rows] == ["project llm-finetune · spike since 2026-11-02"]
    assert ask(engine, "anomalies for team vision this month").rows == []
    week = ask(engine, "anomalies this week")
    assert week.rows == [] and week.nothing.startswith("No anomalies")
    assert "No anomalies" in render_text(week)
    default = ask(engine, "any anomalies?")
    assert (default.period.start, default.period.end) == (date(2026, 11, 15), date(2026, 11, 21))


def test_with_nothing_stored_it_says_how_detection_stores_them(tmp_path):
    db = _demo(tmp_path / "bare.db")
    answer = Engine(db).ask("any anomalies?", TODAY, NOW)
    db.close()
    assert answer.kind == "anomalies" and answer.rows == []
    assert "python -m bot anomalies" in answer.nothing and "serve" in answer.nothing


# --- access scope ----------------------------------------------------------------------


COLUMNS = ("k.project", "k.team", "k.owner", "k.sub_account_id", "k.sub_account_name",
           "k.service_name", "k.region", "k.provider", "c.resource_id")  # fmt: skip


def _names(engine, team: str, inside: bool) -> set[str]:
    """Every name (project, team, owner, account, service, region, provider, resource) the
    team's charges carry, or that only charges outside the team carry."""
    out: set[str] = set()
    for column in COLUMNS:
        rows = engine.db.execute(
            f"SELECT DISTINCT {column} FROM charges c JOIN charge_keys k ON k.id = c.key_id "
            f"WHERE k.team {'=' if inside else '!='} ?",
            (team,),
        )
        out |= {r[0] for r in rows if r[0]}
    return out if inside else out - _names(engine, team, True)


SCOPED = [
    "anomalies since 2026-09-01",
    "any anomalies?",
    "anomalies this month",
    "anomalies for vision-research since 2026-09-01",
    "why did costs go up last month",
    "why did costs go up on 2026-11-02",
    "what drove the increase in vision-research",
    "why did vision-research go up in october",
    "why did service compute engine go up last month",
    "why did llm-finetune go up on 2026-11-02",
    "anomalies for llm-finetune this month",
    "what changed for team nlp this month vs last month",
]


@pytest.mark.parametrize("question", SCOPED)
def test_a_scoped_person_sees_nothing_outside(engine, question):
    outside = _names(engine, "vision", inside=False)
    assert {"llm-finetune", "nlp", EC2, "555566667777", "AWS"} <= outside
    answer = ask(engine, question, VISION)
    shown = "\n".join(
        [render_text(answer), json.dumps(answer_blocks(answer)), json.dumps(answer.to_dict())]
    )
    shown = shown.replace(question, "").replace(json.dumps(question)[1:-1], "")
    for name in sorted(_names(engine, "vision", inside=True), key=len, reverse=True):
        shown = shown.replace(name, "#")  # "Cloud Storage" is no "Storage"
    leaked = [n for n in outside if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", shown)]
    assert not leaked, (question, leaked)


def test_a_scope_sees_its_own_anomalies_and_its_own_change(engine):
    vision = ask(engine, "anomalies since 2026-09-01", VISION)
    assert [r.key for r in vision.rows] == [
        "project vision-research · level shift since 2026-10-08"
    ]
    nlp = ask(engine, "anomalies since 2026-09-01", NLP)
    assert [r.key for r in nlp.rows] == ["project llm-finetune · spike since 2026-11-02"]
    assert ask(engine, "anomalies for llm-finetune this month", VISION).kind == "refused"
    answer = ask(engine, "why did costs go up last month", VISION)
    assert answer.scope == "team vision"
    change = sql_change(engine, answer, "k.team = 'vision'")
    assert round(answer.total - answer.previous.totals["USD"], 2) == round(change, 2)
