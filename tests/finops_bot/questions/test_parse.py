"""Question text → Query, for every form the engine understands."""

from __future__ import annotations

import pytest

from finops_bot.questions.parse import ParseError, parse
from tests.conftest import TODAY


@pytest.mark.parametrize(
    ("question", "kind", "dim", "name"),
    [
        ("what did project bert-training cost this week", "cost", "project", "bert-training"),
        ("What did project BERT Training cost this week?", "cost", "project", "bert training"),
        ("bert-training this week", "cost", None, "bert-training"),
        ("how much did team nlp spend last month", "cost", "team", "nlp"),
        ("cost of owner alice@acme.ai yesterday", "cost", "owner", "alice@acme.ai"),
        (
            "service Amazon Elastic Compute Cloud in 2026-10",
            "cost",
            "service",
            "amazon elastic compute cloud",
        ),
        ("account ml-prod since monday", "cost", "account", "ml-prod"),
        ("provider aws last 7 days", "cost", "provider", "aws"),
        ("region us-east-1 today", "cost", "region", "us-east-1"),
        ("cost of projcet bert-training last week", "cost", "project", "bert-training"),
        ("total spend this month", "total", None, None),
        ("how much did we spend last week?", "total", None, None),
        ("llm-finetune by service last 30 days", "breakdown", None, "llm-finetune"),
        ("project recsys by service in october", "breakdown", "project", "recsys"),
        ("compare bert-training this week vs last week", "compare", None, "bert-training"),
        ("bert-training week over week", "compare", None, "bert-training"),
        ("untagged spend this month", "untagged", None, None),
        ("spot vs on-demand for llm-finetune this month", "pricing", None, "llm-finetune"),
        ("spot vs on demand for team nlp", "pricing", "team", "nlp"),
    ],
)
def test_forms(question, kind, dim, name):
    q = parse(question, TODAY)
    assert (q.kind, q.dim, q.name) == (kind, dim, name)


@pytest.mark.parametrize(
    ("question", "n", "dim"),
    [
        ("top 5 projects this month", 5, "project"),
        ("top 3 teams last week", 3, "team"),
        ("Top services yesterday", 5, "service"),
        ("top 10 owners since monday", 10, "owner"),
        ("cost by team last month", 10, "team"),
    ],
)
def test_top(question, n, dim):
    q = parse(question, TODAY)
    assert (q.kind, q.top_n, q.top_dim) == ("top", n, dim)


def test_measure_switch():
    assert parse("billed cost of project x last month", TODAY).measure == "BilledCost"
    assert parse("list cost of project x", TODAY).measure == "ListCost"
    assert parse("amortized cost of x", TODAY).measure == "EffectiveCost"
    assert parse("project x", TODAY).measure is None


def test_explicit_comparison_period():
    q = parse("compare recsys last month vs september", TODAY)
    assert (q.kind, q.name) == ("compare", "recsys")
    assert (q.period.label, q.previous.label) == ("last month", "September 2026")
    q = parse("compare recsys last month vs the month before", TODAY)
    assert (q.name, q.previous) == ("recsys", None)


@pytest.mark.parametrize("question", ["", "help", "HELP me", "?", "hi"])
def test_help(question):
    assert parse(question, TODAY).kind == "help"


def test_bad_period_is_a_parse_error():
    with pytest.raises(ParseError):
        parse("project x between 2026-11-09 and 2026-11-01", TODAY)
    with pytest.raises(ParseError):
        parse("top 1000 projects", TODAY)


@pytest.mark.parametrize(
    ("question", "kind", "name", "by"),
    [
        ("which GPUs are idle?", "idle_gpus", None, None),
        ("idle gpus", "idle_gpus", None, None),
        ("idle GPU cost for bert-training this week", "idle_cost", "bert-training", "project"),
        (
            "how many dollars of idle GPU did bert-training burn this week",
            "idle_cost",
            "bert-training",
            "project",
        ),
        ("idle gpu cost by owner last 7 days", "idle_cost", None, "owner"),
    ],
)
def test_gpu_questions(question, kind, name, by):
    q = parse(question, TODAY)
    assert (q.kind, q.name, q.by) == (kind, name, by)
