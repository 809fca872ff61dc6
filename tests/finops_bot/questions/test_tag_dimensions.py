"""Configured tag dimensions are named like project in questions ("environment prod last
month", "cost by costcenter"); other tag keys are asked with "tag KEY VALUE" / "by tag KEY"
and read from the facts. Each against the raw rows, with the test's own key matching."""

from __future__ import annotations

from collections import defaultdict

import pytest

from finops_bot.ingest.importer import import_file
from finops_bot.questions import Engine
from finops_bot.questions.rules import QuestionRules
from tests.conftest import NOW, write_focus
from tests.finops_bot.store.test_dimension_reads import RULES, _rows, _value

TODAY_ = __import__("datetime").date(2026, 12, 2)


@pytest.fixture
def engine(db, tmp_path):
    rows = _rows()
    import_file(db, write_focus(tmp_path / "tags.csv", rows), rules=RULES, now=NOW)
    rules = QuestionRules(dimensions=("environment", "costcenter"))
    return Engine(db, rules=rules), rows


def _expected(rows, names, currency="USD"):
    out = defaultdict(float)
    for r in rows:
        if r["BillingCurrency"] != currency:
            continue
        import json

        value = _value(json.loads(r["Tags"]) if r["Tags"] else {}, names)
        out[(value or "").lower()] += float(r["EffectiveCost"])
    return out


def ask(engine, question):
    return engine.ask(question, TODAY_, NOW)


def test_a_configured_dimension_is_a_subject_and_a_breakdown(engine):
    eng, rows = engine
    a = ask(eng, "environment prod last month")
    assert a.filters == {"environment": "prod"}
    expected = _expected(rows, ("environment", "env"))
    assert a.totals["USD"] == pytest.approx(expected["prod"])
    by = ask(eng, "cost by costcenter last month")
    assert by.kind == "top"
    centres = _expected(rows, ("costcenter",))
    got = {r.key: r.cost for r in by.rows if r.currency == "USD"}
    assert got["cc-1"] == pytest.approx(centres["cc-1"])


def test_a_tag_key_nobody_configured_is_read_from_the_facts(engine):
    eng, rows = engine
    apps = _expected(rows, ("app",))
    a = ask(eng, "tag app web last month")
    assert a.kind == "cost" and a.summed == {"Tags.app": ["web"]}
    assert a.totals["USD"] == pytest.approx(apps["web"])
    assert any("read from the facts" in n for n in a.notes)
    by = ask(eng, "cost by tag app last month")
    got = {r.key.lower(): r.cost for r in by.rows if r.currency == "USD"}
    assert got["batch"] == pytest.approx(apps["batch"])
