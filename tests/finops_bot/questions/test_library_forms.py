"""The use-case library's registry and forms: every entry is asked by its own example, names
columns the cache can have, and is listed in the README's use-case table; the questions other
forms answer are never taken by the library."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from finops_bot.questions.lacking import ALWAYS, NOT_KEPT
from finops_bot.questions.library import KINDS, USE_CASES
from finops_bot.questions.parse import parse
from finops_bot.store.detail_reads import DETAIL_COLUMNS, FACT_COLUMNS, KEY_COLUMNS, MEASURES
from finops_bot.store.extras import FOCUS_NAMES

TODAY = date(2026, 12, 1)
README = Path(__file__).resolve().parents[3] / "README.md"
KNOWN = {*FOCUS_NAMES.values(), *ALWAYS, *NOT_KEPT}


@pytest.mark.parametrize("use", USE_CASES, ids=lambda u: u.kind)
def test_each_entry_is_asked_by_its_own_example(use):
    assert use.example and use.title
    assert parse(use.example, TODAY).kind == use.kind


@pytest.mark.parametrize("use", USE_CASES, ids=lambda u: u.kind)
def test_each_entry_names_columns_the_cache_can_hold(use):
    readable = {*KEY_COLUMNS, *DETAIL_COLUMNS, *FACT_COLUMNS, *NOT_KEPT}
    assert set(use.needs) <= KNOWN, use.needs
    assert set(use.by) <= readable, use.by
    assert use.measure in MEASURES
    assert set(use.equal) <= readable


def test_the_readme_table_lists_every_kind_and_all_53_use_cases():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The FOCUS use-case library") :]
    section = section[: section.index("\n## ", 10)]
    numbered = re.findall(r"^\| (\d+) \|", section, flags=re.M)
    assert [int(n) for n in numbered] == list(range(1, 54))
    for kind in KINDS:
        assert f"`{kind}`" in section, kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("credits for aws last month", "credits"),
        ("credit memos last month", "credits"),
        ("reconcile invoices for october", "invoices"),
        ("corrections for october", "corrections"),
        ("compute by subcategory last month", "subcategories"),
        ("cost by publisher last month", "marketplace"),
        ("how many vcpu-hours did we use last month", "usage"),
        ("usage of ec2 month over month", "usage_compare"),
        ("tag coverage for team last month", "tag_coverage"),
        ("discounts last month", "discount_accuracy"),
        ("recurring commitment charges this year", "recurring_commitment_charges"),
        # what the other forms answer stays theirs
        ("top 5 projects last month", "top"),
        ("bert-training by service last 30 days", "breakdown"),
        ("why did costs go up last week", "why"),
        ("which gpus are idle", "idle_gpus"),
        ("idle gpu cost by owner last 7 days", "idle_cost"),
        ("savings plan utilization last month", "commitment_utilization"),
        ("unused commitments this month", "unused_commitments"),
        ("effective savings rate by service", "savings_rate"),
        ("commitment purchases this year", "commitment_purchases"),
        ("spot vs on-demand for llm-finetune this month", "pricing"),
        ("untagged spend this month", "untagged"),
        ("gpu hours by team", "top"),
        ("forecast this month", "forecast"),
        ("which budgets are at risk", "budget"),
        ("cost by tag app", "top"),
    ],
)
def test_forms(question, kind):
    assert parse(question, TODAY).kind == kind


def test_a_resource_or_sku_is_taken_as_typed():
    q = parse("cost of resource arn:aws:ec2:us-east-1:1:instance/i-0abc last month", TODAY)
    assert (q.kind, q.detail) == ("resource_components", "arn:aws:ec2:us-east-1:1:instance/i-0abc")
    q = parse("metered costs for sku 6F84-2C3D-A1B2 last month", TODAY)
    assert (q.kind, q.detail) == ("sku_meters", "6f84-2c3d-a1b2")
