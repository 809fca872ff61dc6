"""GPU spend questions over a FOCUS file of three clouds' GPU rows (the importer's test
generator: p4d/p5 usage types, a2 machine types, GCP GPU SKUs, Azure ND/NV meters), each
answer against the file's own reading, computed without the store."""

from __future__ import annotations

import pytest

from finops_bot.ingest.importer import import_file
from finops_bot.questions import Engine
from tests.conftest import NOW, TODAY
from tests.finops_bot.ingest.test_gpu_import import _focus_expected, write_focus_gpus


@pytest.fixture
def gpus(db, rules, tmp_path):
    path = write_focus_gpus(tmp_path / "gpus.csv")
    import_file(db, path, rules=rules, now=NOW)
    hours, spend = _focus_expected(path)
    return Engine(db), hours, spend


def ask(engine, question):
    return engine.ask(question, TODAY, NOW)


def test_gpu_spend_is_every_gpu_charge(gpus):
    engine, _, spend = gpus
    a = ask(engine, "what's our gpu spend this month")
    assert a.kind == "cost" and a.filters == {"gpu": "GPU spend, every model"}
    assert a.total == pytest.approx(sum(spend.values()))
    by_model = ask(engine, "spend by gpu model this month")
    assert {r.key: r.cost for r in by_model.rows} == pytest.approx(spend)


def test_cost_of_a_model_in_the_plural(gpus):
    engine, _, spend = gpus
    a = ask(engine, "cost of h100s this month")
    assert a.filters == {"gpu": "H100"} and a.total == pytest.approx(spend["H100"])


def test_gpu_hours_carry_no_currency(gpus):
    engine, hours, _ = gpus
    a = ask(engine, "a100 hours this month")
    assert (a.unit, a.currency, a.totals) == ("gpu_hours", None, {})
    assert a.quantity == pytest.approx(hours["A100"])
    data = a.to_dict()
    assert data["unit"] == "gpu_hours" and data["quantity"] == pytest.approx(hours["A100"])
    everything = ask(engine, "gpu hours by gpu model this month")
    assert {r.key: r.quantity for r in everything.rows} == pytest.approx(hours)
    assert all(r.currency == "" and r.cost == 0 for r in everything.rows)


def test_instance_families_by_prefix(gpus):
    engine, _, _ = gpus
    a = ask(engine, "p4d instances this month")
    assert a.filters == {"instance": "p4d.24xlarge"} and a.total > 0
