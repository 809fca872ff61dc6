"""'What are we burning right now': the answer object, its JSON, its scope and its notes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from finops_bot.access import Grant, Scope
from finops_bot.gpu.prices import PriceBook
from finops_bot.ingest.importer import import_file
from finops_bot.questions.burn_answers import burn_now_answer
from finops_bot.render.text import render_text
from tests.conftest import NOW, charge, write_focus
from tests.finops_bot.gpu.test_fleet import T0, minutes

P4D = 32.77
QUESTION = "what are we burning right now"
AT = T0 + timedelta(minutes=40)


@pytest.fixture
def fleet_db(db):
    minutes(db, 0, 40, [90.0] * 8, node="i-nlp")
    minutes(db, 0, 40, [0.0] * 8, node="i-vis", project="vision-research", owner="dan")
    minutes(db, 0, 20, [90.0] * 8, node="gpu-7")
    minutes(db, 0, 25, [90.0] * 8, node="gpu-9")
    return db


def ask(db, scope=None):
    return burn_now_answer(db, QUESTION, AT, PriceBook(), scope=scope)


def test_the_answer_is_per_hour_from_heartbeats(fleet_db):
    a = ask(fleet_db)
    assert (a.kind, a.unit, a.measure, a.fresh_from) == (
        "burn_now",
        "money_per_hour",
        None,
        "heartbeats",
    )
    assert a.totals == {"USD": pytest.approx(2 * P4D)}
    assert [(r.key, r.currency) for r in a.rows] == [
        ("bert-training", "USD"),
        ("vision-research", "USD"),
    ]
    assert [f.source for f in a.freshness] == ["heartbeats"] and a.loaded_at
    assert "not billing" in a.basis and "bundled 2026-11-01 (2 nodes)" in a.basis
    assert "2 nodes silent for over 3 minutes, not counted: gpu-7, gpu-9" in a.notes[1]
    data = a.to_dict()
    assert (data["unit"], data["kind"], data["currency"]) == ("money_per_hour", "burn_now", "USD")
    assert data["total"] == pytest.approx(2 * P4D)
    json.dumps(data)
    assert "gpu-7" in render_text(a)


def test_no_heartbeats_says_how_to_install_the_agent(db):
    a = ask(db)
    assert a.totals == {} and a.rows == [] and a.freshness == []
    assert "agent-token create" in a.nothing
    assert a.to_dict()["unit"] == "money_per_hour"


def test_a_scope_sees_only_its_nodes(fleet_db):
    bert = Scope((Grant.of({"project": ["bert-training"]}),))
    a = ask(fleet_db, bert)
    assert [r.key for r in a.rows] == ["bert-training"] and a.scope == "project bert-training"
    assert "vision-research" not in render_text(a) + json.dumps(a.to_dict())
    assert "i-vis" not in json.dumps(a.to_dict())


def test_a_scope_that_excludes_every_node(fleet_db):
    outside = Scope((Grant.of({"project": ["recsys"]}),))
    a = ask(fleet_db, outside)
    assert a.totals == {} and a.rows == [] and a.notes == []
    assert a.nothing == "No GPU node has reported within project recsys."
    assert "gpu-7" not in render_text(a)


def test_a_team_scope_reaches_nodes_through_their_projects_charges(fleet_db, rules, tmp_path):
    rows = [charge("2026-11-01", 1.0, project="vision-research", team="cv")]
    import_file(fleet_db, write_focus(tmp_path / "b.csv", rows), rules=rules, now=NOW)
    a = ask(fleet_db, Scope((Grant.of({"team": ["cv"]}),)))
    assert [r.key for r in a.rows] == ["vision-research"]
    assert a.totals == {"USD": pytest.approx(P4D)}


def test_every_node_silent_is_nothing_now(fleet_db):
    a = burn_now_answer(fleet_db, QUESTION, T0 + timedelta(hours=2), PriceBook())
    assert a.totals == {} and "last 3 minutes" in a.nothing
    assert "4 nodes silent" in a.notes[0]
