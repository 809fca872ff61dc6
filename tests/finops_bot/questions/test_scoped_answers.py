"""Answers under an access scope, on the demo cache: totals equal an independent SQL sum
over the allowed charges, a subject partly outside is refused without a cost query, no
answer names anything outside the scope, GPU answers see only the scope's nodes, and no
scope is exactly today's behaviour."""

from __future__ import annotations

import json
import logging
import re
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_bot.access import Grant, Scope
from finops_bot.days import day_number
from finops_bot.demo import DEMO_QUESTIONS, load_demo
from finops_bot.ingest.tags import TagRules
from finops_bot.questions import Engine
from finops_bot.render.blocks import answer_blocks
from finops_bot.render.text import render_text
from finops_bot.store import connect
from tests.conftest import NOW, TODAY

NLP = Scope((Grant.of({"team": ["nlp"]}),), contact="#finops-help")
TWO = Scope(
    (
        Grant.of({"team": ["NLP"], "provider": ["aws"]}),
        Grant.of({"project": ["vision-research"]}),
    )
)
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    path = tmp_path_factory.mktemp("scoped") / "demo.db"
    db = connect(path)
    rules = TagRules({"project": ("project",), "team": ("team",), "owner": ("owner",)})
    load_demo(db, TODAY, NOW, rules)
    yield Engine(db)
    db.close()


def ask(engine, question, scope=None):
    return engine.ask(question, TODAY, NOW, scope=scope)


def sql_total(engine, where_sql, params=()):
    """The allowed charges summed from the fact table, not through the read path."""
    first, last = (day_number(d) for d in OCTOBER)
    row = engine.db.execute(
        "SELECT SUM(c.effective_cost) FROM charges c JOIN charge_keys k ON k.id = c.key_id "
        f"WHERE c.day BETWEEN ? AND ? AND ({where_sql})",
        (first, last, *params),
    ).fetchone()
    return row[0]


def test_a_scoped_total_is_the_scopes_total_to_the_cent(engine):
    answer = ask(engine, "total spend last month", NLP)
    assert answer.title == "All spend in scope (team nlp)" and answer.scope == "team nlp"
    assert round(answer.total, 2) == round(sql_total(engine, "k.team = 'nlp'"), 2)
    assert "within the access scope (team nlp)" in " ".join(answer.notes)
    assert answer.to_dict()["scope"] == "team nlp"
    expected = sql_total(
        engine,
        "(k.team = 'nlp' AND k.provider = 'AWS') OR k.project = 'vision-research'",
    )
    assert round(ask(engine, "total spend last month", TWO).total, 2) == round(expected, 2)
    top = ask(engine, "top 20 projects last month", TWO)
    assert {r.key for r in top.rows} <= {"bert-training", "llm-finetune", "vision-research"}
    assert round(sum(r.cost for r in top.rows), 2) == round(expected, 2)


def test_a_subject_inside_the_scope_is_answered_whole(engine):
    inside = ask(engine, "project bert-training last month", NLP)
    whole = ask(engine, "project bert-training last month")
    assert inside.kind == "cost" and inside.total == pytest.approx(whole.total)
    service = ask(engine, "service ec2 last month", NLP)  # not a scope dimension: within it
    nlp_ec2 = sql_total(engine, "k.team = 'nlp' AND k.service_name LIKE '%Elastic Compute%'")
    assert service.total == pytest.approx(nlp_ec2) and service.scope == "team nlp"


def test_a_subject_partly_inside_is_refused_with_no_cost_query(engine, caplog):
    caplog.set_level(logging.INFO, "finops_bot.access")
    bert = Scope((Grant.of({"project": ["bert-training"]}),), contact="#finops-help")
    ask(engine, "total spend last month", bert)  # names and the scope are built once
    statements: list[str] = []
    engine.db.conn.set_trace_callback(statements.append)
    try:
        answer = ask(engine, "team nlp last month", bert)  # nlp also runs llm-finetune
    finally:
        engine.db.conn.set_trace_callback(None)
    assert answer.kind == "refused" and answer.totals == {} and not answer.has_number
    assert "it also has spend outside that scope" in answer.message
    assert answer.message.endswith("To see more, ask #finops-help.")
    assert not [s for s in statements if "SUM(" in s.upper()], statements
    assert any("refused" in r.getMessage() for r in caplog.records)


def test_untagged_and_the_unknown_are_refused_alike(engine):
    assert ask(engine, "untagged spend last month", NLP).kind == "refused"
    outside = ask(engine, "team vision last month", NLP)
    nowhere = ask(engine, "team zzzz last month", NLP)
    assert outside.kind == nowhere.kind == "refused"
    assert outside.message.replace("vision", "zzzz") == nowhere.message  # nothing revealed
    typo = ask(engine, "project bert-trainng last month", NLP)
    assert typo.did_you_mean == ["bert-training"] and "Did you mean" in typo.message
    assert all("untagged" not in s for s in ask(engine, "top 5 projects", NLP).suggestions)
    nothing = ask(engine, "total spend", Scope(()))
    assert nothing.kind == "refused" and "nothing is granted here" in nothing.message


def test_no_scope_is_exactly_todays_behaviour(engine):
    for question in DEMO_QUESTIONS:
        assert ask(engine, question, Scope()).to_dict() == ask(engine, question).to_dict()


def _outside_names(engine, scope) -> set[str]:
    view = engine.view(scope)
    out = set()
    for dim in ("project", "team", "owner", "account"):
        inside = set(view.names.values(dim))
        for value in engine.names().values(dim):
            if value not in inside:
                out.add(value)
                label = engine.names().labels.get((dim, value))
                if label and label not in {view.names.labels.get((dim, v)) for v in inside}:
                    out.add(label)
    return out


TEMPLATES = [
    "{name} last month",
    "top 5 {dim}s last month",
    "{name} by service this month",
    "list {dim}s",
    "biggest increases by {dim}",
    "compare {name} this week vs last week",
    "{name} vs {other} last month",
    "{dim} {name} trend",
    "help",
    "gpu spend by {dim} last month",
    "which {dim} spends the most this month",
    "spot vs on-demand for {name} this month",
    "what grew the most this week",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_answer_to_a_scoped_person_names_anything_outside(engine, data):
    scope = data.draw(st.sampled_from([NLP, TWO]))
    outside = _outside_names(engine, scope)
    assert outside  # the demo has names outside both scopes
    names = sorted(engine.names().values("project") + engine.names().values("team"))
    template = data.draw(st.sampled_from(TEMPLATES))
    question = template.format(
        name=data.draw(st.sampled_from(names)),
        other=data.draw(st.sampled_from(names)),
        dim=data.draw(st.sampled_from(["project", "team", "owner", "account"])),
    )
    answer = ask(engine, question, scope)
    shown = "\n".join(
        [render_text(answer), json.dumps(answer_blocks(answer)), json.dumps(answer.to_dict())]
    )
    shown = shown.replace(question, "")  # the asker's own words come back in refusals
    shown = shown.replace(json.dumps(question)[1:-1], "")
    typed = set(question.split())  # a suggestion may echo a name the asker typed themselves
    leaked = [n for n in outside - typed if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", shown)]
    assert not leaked, (question, leaked)


def test_gpu_answers_see_only_the_scopes_nodes(engine, tmp_path):
    from tests.finops_bot.gpu.test_fleet import T0, beat

    db = connect(tmp_path / "fleet.db")
    for minute in range(1, 40):
        beat(db, minute, [0.0] * 8, node="i-nlp", project="bert-training", owner="alice")
        beat(db, minute, [0.0] * 8, node="i-vis", project="vision-research", owner="dan")
    now = T0 + timedelta(minutes=40)
    fleet_engine = Engine(db)
    bert = Scope((Grant.of({"project": ["bert-training"]}),))
    idle = fleet_engine.ask("which gpus are idle", now.date(), now, scope=bert)
    assert [r.key.split(" ·")[0] for r in idle.rows] == ["i-nlp"]
    assert "vision-research" not in render_text(idle) and idle.scope == "project bert-training"
    everyone = fleet_engine.ask("which gpus are idle", now.date(), now)
    assert len(everyone.rows) == 2
    cost = fleet_engine.ask("idle gpu cost this week", now.date(), now, scope=bert)
    assert [r.key for r in cost.rows] == ["bert-training"]
    team = Scope((Grant.of({"team": ["nlp"]}),))  # nodes carry no team: none is inside
    assert fleet_engine.ask("which gpus are idle", now.date(), now, scope=team).rows == []
    dan = Scope((Grant.of({"owner": ["dan"]}),))  # a named project with nodes outside it
    named = fleet_engine.ask("which gpus are idle for vision-research", now.date(), now, scope=bert)
    assert named.kind == "refused" and "GPUs outside that scope" in named.message
    assert fleet_engine.ask("idle gpu cost for bert-training this week", now.date(), now,
                            scope=dan).kind == "refused"  # fmt: skip
    inside = fleet_engine.ask("idle gpu cost for bert-training this week", now.date(), now,
                              scope=bert)  # fmt: skip
    assert [r.key for r in inside.rows] == ["bert-training"]
    db.close()


@pytest.fixture
def spelt(db, rules, tmp_path):
    """Found by a hostile probe: one project, provider and owner spelt two ways, each
    spelling on another team; two AWS sources, one named for the other team's project; a
    tag value on both teams."""
    from finops_bot.ingest.importer import import_file
    from tests.conftest import charge, write_focus

    days = [f"2026-10-{d:02d}" for d in range(1, 29)]
    nlp = [charge(d, 100.0, project="bert-training", team="nlp", owner="alice@acme.ai",
                  tags={"project": "bert-training", "team": "nlp", "owner": "alice@acme.ai",
                        "app": "web"}) for d in days]  # fmt: skip
    tags = {"project": "Bert_Training", "team": "vision", "owner": "Alice@acme.ai", "app": "web"}
    vision = [
        {**charge(d, 1000.0, provider="Amazon Web Services", tags=tags), "BillingAccountId": "888"}
        for d in days
    ]
    other = [charge(d, 5.0, project="x", team="nlp", owner="john.smith@acme.ai") for d in days]
    import_file(db, write_focus(tmp_path / "a.csv", nlp + other), rules=rules, now=NOW)
    import_file(db, write_focus(tmp_path / "b.csv", vision), rules=rules, now=NOW,
                source="aws-secret-vision-project")  # fmt: skip
    return Engine(db)


def test_every_spelling_of_a_subject_counts_for_partly_outside(spelt):
    for question in ("bert-training last month", "aws last month", "alice last month"):
        answer = ask(spelt, question, NLP)
        assert answer.kind == "refused", (question, answer.kind, answer.totals)
    assert ask(spelt, "bert-training last month").total == pytest.approx(28 * 1100)


def test_a_tag_value_compared_is_the_tags_spend_within_the_scope(spelt):
    answer = ask(spelt, "tag app web vs project x last month", NLP)
    rows = {r.key: r.cost for r in answer.rows}
    assert rows["Tag app web"] == pytest.approx(28 * 100)  # not the scope's whole total
    assert ask(spelt, "tag app web vs project x last month").rows[0].cost == pytest.approx(
        28 * 1100
    )


def test_scoped_freshness_names_no_source(spelt):
    answer = ask(spelt, "total spend last month", NLP)
    shown = render_text(answer) + json.dumps(answer.to_dict())
    assert "aws-secret-vision-project" not in shown
    assert [f.source for f in answer.freshness] == ["billing data"]
    every = ask(spelt, "total spend last month").freshness  # the operator sees the sources
    assert "aws-secret-vision-project" in {f.source for f in every}


def test_owner_scopes_match_emails_exactly():
    from finops_bot.access import Grant

    grant = Grant.of({"owner": ["John.Smith@acme.ai"]})
    assert grant.admits({"owner": "john.smith@acme.ai"})
    assert not grant.admits({"owner": "john_smith@acme.ai"})


def test_a_typo_in_a_scope_is_named_in_a_note(engine):
    typo = Scope((Grant.of({"team": ["nosuchteam"]}),))
    answer = ask(engine, "total spend last month", typo)
    assert "team nosuchteam (no spend of it here; check the spelling)" in " ".join(answer.notes)
    assert answer.totals == {}
