"""'cost per 1k steps for bert-training this week', '$ per gpu-hour by project': the forms,
and the answers through Engine.ask (rows per job, billed vs estimated, retention, scopes)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from finops_bot.access import Grant, Scope
from finops_bot.gpu.prices import PriceBook
from finops_bot.ingest.importer import import_file
from finops_bot.questions.engine import Engine
from finops_bot.questions.parse import parse
from finops_bot.render.text import render_text
from tests.conftest import charge, write_focus
from tests.finops_bot.gpu.test_steps import PER_GPU_MINUTE, run

TODAY = date(2026, 11, 20)  # a Friday: this week is Nov 16–20
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("question", "kind", "name", "by", "detail"),
    [
        ("cost per 1k steps for bert-training this week", "step_cost", "bert-training", None,
         "1000"),
        ("cost per step for job llama-7b last week", "step_cost", "llama-7b", None, "1"),
        ("cost per 1000 steps by job", "step_cost", None, "job", "1000"),
        ("what is our cost per 10k steps", "step_cost", None, None, "10000"),
        ("$ per gpu-hour by project", "gpu_hour_cost", None, "project", None),
        ("cost per gpu hour for bert-training this week", "gpu_hour_cost", "bert-training",
         None, None),
        ("dollars per GPU-hour for job llama-7b", "gpu_hour_cost", "llama-7b", None, None),
    ],
)  # fmt: skip
def test_the_forms(question, kind, name, by, detail):
    q = parse(question, TODAY)
    assert (q.kind, q.name, q.by, q.detail, q.measure) == (kind, name, by, detail, None)


def test_job_subjects_are_named_as_jobs():
    assert parse("cost per step for job llama-7b last week", TODAY).dim == "job"
    q = parse("cost per 1k steps for bert-training this week", TODAY)
    assert (q.dim, q.period.start, q.period_given) == (None, date(2026, 11, 16), True)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("gpu hours by team", "top"),
        ("a100 hours this month", "cost"),
        ("cost per hour of bert-training", "burn_now"),  # the live burn
        ("average cost per vcpu-hour last month", "average_rate"),
        ("top 5 projects last month", "top"),
    ],
)
def test_what_other_forms_answer_stays_theirs(question, kind):
    assert parse(question, TODAY).kind == kind


def test_a_grouping_it_cannot_make_is_a_clear_error(db):
    a = Engine(db, prices=PriceBook()).ask("cost per 1k steps by team", TODAY, NOW)
    assert a.kind == "error" and "by job, project or owner, not by team" in a.message


@pytest.fixture
def fleet_db(db, rules, tmp_path):
    for n in range(8):  # an 8-node data-parallel job: the same global step on every node
        run(db, f"i-dp{n}", "2026-11-18T10:00", 60, lambda m: 1000 + 10 * m)
        run(db, f"i-dp{n}", "2026-11-19T10:00", 60, lambda m: 1600 + 10 * m)
    run(db, "i-bb", "2026-11-19T10:00", 60, lambda m: 40 * m, job="bert-base")
    run(db, "i-v", "2026-11-19T10:00", 30, lambda m: m, job="vit", project="vision", owner="dan")
    rows = [charge("2026-11-18", 400.0, resource=f"i-dp{n}") for n in range(8)]
    import_file(db, write_focus(tmp_path / "bill.csv", rows), rules=rules, now=NOW)
    return db


def ask(db, question, scope=None):
    return Engine(db, prices=PriceBook()).ask(question, TODAY, NOW, scope=scope)


def test_cost_per_1k_steps_through_the_engine(fleet_db):
    a = ask(fleet_db, "cost per 1k steps for bert-training this week")
    assert (a.kind, a.unit, a.measure, a.fresh_from) == (
        "step_cost",
        "money_per_unit",
        None,
        "heartbeats",
    )
    billed, estimated = 8 * 400.0, 8 * 8 * 60 * PER_GPU_MINUTE
    steps = 1600 + 590 - 1000  # 1000 … 2190, once for 8 nodes
    assert [(r.key, r.unit) for r in a.rows] == [
        ("llama-7b", "1k steps"),
        ("bert-base", "1k steps"),
    ]
    llama = a.rows[0]
    assert llama.quantity == pytest.approx(steps / 1000)
    assert llama.cost == pytest.approx((billed + estimated) / (steps / 1000))
    assert llama.currency == "USD"
    text = render_text(a)
    assert "$3,200.00 billed" in text and "8 node-days (Nov 18)" in text
    assert "estimated (GPU-minutes × list price per GPU" in text and "(Nov 19)" in text
    assert "never added across nodes" in text
    assert "vit" not in text  # another project's job
    data = a.to_dict()
    assert data["rows"][0]["unit"] == "1k steps" and data["kind"] == "step_cost"
    json.dumps(data)


def test_cost_per_step_of_one_job(fleet_db):
    a = ask(fleet_db, "cost per step for job bert-base this week")
    assert [(r.key, r.unit, r.quantity) for r in a.rows] == [("bert-base", "step", 2360)]
    assert a.rows[0].cost == pytest.approx(8 * 60 * PER_GPU_MINUTE / 2360)
    assert a.title == "Cost per step · bert-base"


def test_dollars_per_gpu_hour_by_project(fleet_db):
    a = ask(fleet_db, "$ per gpu-hour by project this week")
    assert a.kind == "gpu_hour_cost"
    rows = {r.key: r for r in a.rows}
    assert set(rows) == {"bert-training", "vision"}
    bert_hours = (8 * 8 * 120 + 8 * 60) / 60
    bert_dollars = 8 * 400.0 + (8 * 8 * 60 + 8 * 60) * PER_GPU_MINUTE
    assert rows["bert-training"].quantity == pytest.approx(bert_hours)
    assert rows["bert-training"].cost == pytest.approx(bert_dollars / bert_hours)
    assert rows["vision"].cost == pytest.approx(PER_GPU_MINUTE * 60)  # the list price per GPU
    assert rows["vision"].unit == "GPU-hour"


def test_every_dollar_billed_reads_as_billing(fleet_db):
    a = ask(fleet_db, "cost per 1k steps for llama-7b on 2026-11-18")
    assert a.fresh_from == "billing" and a.data_through == "2026-11-18"
    assert a.rows[0].cost == pytest.approx(3200.0 / 0.59)


def test_a_period_beyond_the_retention_says_so(fleet_db):
    a = ask(fleet_db, "cost per 1k steps by job this month")
    assert "Heartbeats are kept 14 days: before 2026-11-07 nothing is counted." in a.notes
    old = ask(fleet_db, "cost per 1k steps by job in 2026-10")
    assert old.rows == [] and "nothing can be counted" in old.nothing
    assert "nothing can be counted" in render_text(old)


def test_an_unknown_job(fleet_db):
    a = ask(fleet_db, "cost per 1k steps for job gpt-9 this week")
    assert a.kind == "unknown_name" and "No job named gpt-9" in a.message
    assert "llama-7b" in a.message


def test_a_scoped_audience_sees_only_its_jobs(fleet_db):
    vision = Scope((Grant.of({"project": ["vision"]}),))
    a = ask(fleet_db, "cost per gpu hour by job this week", scope=vision)
    assert [r.key for r in a.rows] == ["vit"] and a.scope == "project vision"
    assert "llama" not in render_text(a) + json.dumps(a.to_dict())
    refused = ask(fleet_db, "cost per 1k steps for job llama-7b this week", scope=vision)
    assert refused.kind == "refused" and refused.rows == []
    assert "3,200" not in render_text(refused)


def test_minutes_without_a_job_are_named_not_priced_into_a_job(db):
    run(db, "i-a", "2026-11-18T10:00", 20, lambda m: m, job=None)  # before minutes kept jobs
    run(db, "i-a", "2026-11-18T10:20", 20, lambda m: 20 + m)
    run(db, "i-b", "2026-11-18T10:00", 20, lambda m: m, job=None)
    run(db, "i-b", "2026-11-18T10:20", 10, lambda m: m, job="other")
    run(db, "i-b", "2026-11-18T10:30", 10, lambda m: m, job="third")
    a = ask(db, "cost per 1k steps by job this week")
    assert {r.key for r in a.rows} == {"llama-7b", "other", "third"}
    text = render_text(a)
    assert "GPU-minutes with no job label ($" in text
    assert "i-a: 160 GPU-minutes without a job label counted under its latest job llama-7b" in text
    hours = ask(db, "cost per gpu-hour by job this week")
    assert "(no job)" in {r.key for r in hours.rows}
