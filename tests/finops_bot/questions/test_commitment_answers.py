"""Commitment answers on FOCUS 1.2-shaped data (savings plans and reservations, Used and
Unused, purchases, credits, taxes, a second currency, nulls in optional columns), each
against an independent SQL sum over the same file's rows; the spec's own worked examples;
a Cost Explorer-shaped cache answering ``unsupported``."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from finops_bot.ingest.importer import import_file
from finops_bot.ingest.tags import TagRules
from finops_bot.questions import Engine
from finops_bot.render.blocks import answer_blocks
from finops_bot.render.text import render_text
from finops_bot.store import connect

TAGS = TagRules({"project": ("project",), "team": ("team",), "owner": ("owner",)})
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
TODAY = date(2026, 12, 2)
SP = "arn:aws:savingsplans::111:savingsplan/sp-1"
RI = "arn:aws:ec2:us-east-1:111:reserved-instances/ri-1"
COLUMNS = [
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "ConsumedQuantity",
    "ConsumedUnit",
    "PricingQuantity",
    "PricingUnit",
    "PricingCategory",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "InvoiceId",
    "RegionId",
    "AvailabilityZone",
    "ServiceName",
    "ServiceCategory",
    "ServiceSubcategory",
    "SubAccountId",
    "SubAccountName",
    "ResourceId",
    "ResourceType",
    "SkuId",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountCategory",
    "CommitmentDiscountType",
    "CommitmentDiscountStatus",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit",
    "Tags",
]


def _row(day: str, category: str = "Usage", **kw) -> dict:
    base = {
        "BillingAccountId": "999",
        "BillingAccountName": "acme",
        "BillingCurrency": "USD",
        "BillingPeriodStart": f"{day[:8]}01T00:00:00Z",
        "BillingPeriodEnd": "",
        "ChargePeriodStart": f"{day}T00:00:00Z",
        "ChargePeriodEnd": f"{day}T23:59:59Z",
        "ChargeCategory": category,
        "ChargeClass": "",
        "ChargeDescription": "",
        "ChargeFrequency": "Usage-Based",
        "ProviderName": "AWS",
        "PublisherName": "AWS",
        "InvoiceIssuerName": "Amazon Web Services, Inc.",
        "InvoiceId": "INV-11",
        "RegionId": "us-east-1",
        "AvailabilityZone": "us-east-1a",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "ServiceCategory": "Compute",
        "ServiceSubcategory": "Virtual Machines",
        "SubAccountId": "111",
        "SubAccountName": "ml-prod",
        "ResourceType": "Instance",
        "SkuId": "sku-p4d",
        "ConsumedUnit": "Hours",
        "PricingUnit": "Hours",
        "PricingCategory": "Standard",
        "Tags": json.dumps({"project": "bert-training", "team": "nlp"}),
    }
    base.update({k: ("" if v is None else str(v)) for k, v in kw.items()})
    return base


def _bill() -> list[dict]:
    rows = []
    for d in range(1, 31):
        day = f"2026-11-{d:02d}"
        # 10 h a day under the reservation (Used), 2 h of it unused; 14 h on demand; Spot 6 h
        rows.append(
            _row(
                day,
                ResourceId="i-1",
                BilledCost=0,
                EffectiveCost=150,
                ListCost=220,
                ContractedCost=160,
                ListUnitPrice=22,
                ContractedUnitPrice=16,
                ConsumedQuantity=10,
                PricingQuantity=10,
                PricingCategory="Committed",
                CommitmentDiscountId=RI,
                CommitmentDiscountName="p4d RI",
                CommitmentDiscountCategory="Usage",
                CommitmentDiscountType="Reserved Instance",
                CommitmentDiscountStatus="Used",
                CommitmentDiscountQuantity=10,
                CommitmentDiscountUnit="Hours",
            )
        )
        rows.append(
            _row(
                day,
                ResourceId=RI,
                BilledCost=0,
                EffectiveCost=30,
                ListCost=None,
                ConsumedQuantity=None,
                ConsumedUnit="",
                PricingQuantity=None,
                PricingCategory="Committed",
                CommitmentDiscountId=RI,
                CommitmentDiscountName="p4d RI",
                CommitmentDiscountCategory="Usage",
                CommitmentDiscountType="Reserved Instance",
                CommitmentDiscountStatus="Unused",
                CommitmentDiscountQuantity=2,
                CommitmentDiscountUnit="Hours",
            )
        )
        rows.append(
            _row(
                day,
                ResourceId="i-2",
                BilledCost=308,
                EffectiveCost=308,
                ListCost=308,
                ConsumedQuantity=14,
                PricingQuantity=14,
            )
        )
        rows.append(
            _row(
                day,
                ResourceId="i-3",
                BilledCost=40,
                EffectiveCost=40,
                ListCost=132,
                ConsumedQuantity=6,
                PricingQuantity=6,
                PricingCategory="Dynamic",
            )
        )
        # a compute savings plan: $95 used on SageMaker, $5 unused
        rows.append(
            _row(
                day,
                ResourceId="nb-1",
                ServiceName="Amazon SageMaker",
                BilledCost=0,
                EffectiveCost=95,
                ListCost=140,
                ConsumedQuantity=24,
                PricingQuantity=24,
                PricingCategory="Committed",
                CommitmentDiscountId=SP,
                CommitmentDiscountName="compute SP",
                CommitmentDiscountCategory="Spend",
                CommitmentDiscountType="Savings Plan",
                CommitmentDiscountStatus="Used",
                CommitmentDiscountQuantity=95,
                CommitmentDiscountUnit="USD",
            )
        )
        rows.append(
            _row(
                day,
                ResourceId=SP,
                ServiceName="Amazon SageMaker",
                BilledCost=0,
                EffectiveCost=5,
                ListCost=None,
                ConsumedQuantity=None,
                ConsumedUnit="",
                PricingCategory="Committed",
                CommitmentDiscountId=SP,
                CommitmentDiscountName="compute SP",
                CommitmentDiscountCategory="Spend",
                CommitmentDiscountType="Savings Plan",
                CommitmentDiscountStatus="Unused",
                CommitmentDiscountQuantity=5,
                CommitmentDiscountUnit="USD",
            )
        )
        # a marketplace row and an EUR row on another account (never added to USD)
        rows.append(
            _row(
                day,
                ResourceId="mk-1",
                PublisherName="Databricks",
                InvoiceIssuerName="AWS Marketplace",
                BilledCost=12,
                EffectiveCost=12,
                ListCost=12,
                ConsumedQuantity=1,
                ConsumedUnit="Units",
            )
        )
        rows.append(
            _row(
                day,
                ResourceId="i-9",
                BillingCurrency="EUR",
                SubAccountId="222",
                BilledCost=50,
                EffectiveCost=45,
                ListCost=60,
                ConsumedQuantity=2,
                PricingQuantity=2,
                PricingCategory="Committed",
                CommitmentDiscountId="ri-eur",
                CommitmentDiscountCategory="Usage",
                CommitmentDiscountStatus="Used",
                CommitmentDiscountQuantity=2,
                CommitmentDiscountUnit="Hours",
            )
        )
    rows.append(
        _row(
            "2026-11-01",
            "Purchase",
            ResourceId=SP,
            BilledCost=3000,
            EffectiveCost=0,
            ListCost=None,
            ConsumedQuantity=None,
            ConsumedUnit="",
            ChargeFrequency="Recurring",
            CommitmentDiscountId=SP,
            CommitmentDiscountName="compute SP",
            CommitmentDiscountCategory="Spend",
            CommitmentDiscountType="Savings Plan",
            ChargePeriodEnd="2026-12-20T00:00:00Z",
        )
    )
    rows.append(
        _row(
            "2026-11-01",
            "Tax",
            ResourceId=None,
            BilledCost=80,
            EffectiveCost=80,
            ListCost=None,
            ConsumedQuantity=None,
            ConsumedUnit="",
        )
    )
    rows.append(
        _row(
            "2026-11-15",
            "Credit",
            ResourceId=None,
            BilledCost=-40,
            EffectiveCost=-40,
            ListCost=None,
            ConsumedQuantity=None,
            ConsumedUnit="",
        )
    )
    return rows


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("commitments")
    path = folder / "focus.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(_bill())
    db = connect(folder / "c.db")
    import_file(db, path, rules=TAGS, now=NOW)
    raw = sqlite3.connect(":memory:")  # the file itself, for independent sums
    raw.execute(f"CREATE TABLE f ({', '.join(COLUMNS)})")
    with path.open() as fh:
        values = [[r[c] or None for c in COLUMNS] for r in csv.DictReader(fh)]
    raw.executemany(f"INSERT INTO f VALUES ({','.join('?' * len(COLUMNS))})", values)
    yield Engine(db), raw
    db.close()


def ask(engine, question: str):
    answer = engine.ask(question, TODAY, NOW)
    render_text(answer)
    assert len(answer_blocks(answer)) <= 50
    return answer


def one(raw, sql: str) -> float:
    return raw.execute(sql).fetchone()[0]


NOV = "ChargePeriodStart LIKE '2026-11-%' AND BillingCurrency = 'USD'"


def test_savings_plan_utilization_in_dollars(cache):
    engine, raw = cache
    a = ask(engine, "savings plan utilization last month")
    assert a.kind == "commitment_utilization" and a.unit == "ratio"
    used = one(
        raw,
        f"SELECT SUM(EffectiveCost) FROM f WHERE {NOV} AND CommitmentDiscountId = "
        f"'{SP}' AND CommitmentDiscountStatus = 'Used'",
    )
    unused = one(
        raw,
        f"SELECT SUM(EffectiveCost) FROM f WHERE {NOV} AND CommitmentDiscountId"
        f" = '{SP}' AND CommitmentDiscountStatus = 'Unused'",
    )
    assert a.ratio == pytest.approx(used / (used + unused)) == pytest.approx(0.95)
    (rate,) = a.rates
    assert rate.unit == "USD" and rate.denominator == pytest.approx(used + unused)
    assert a.to_dict()["unit"] == "ratio" and a.to_dict()["ratio"] == pytest.approx(0.95)


def test_reservation_utilization_in_committed_units(cache):
    engine, raw = cache
    a = ask(engine, "ri utilization last month")
    by_key = {r.key: r for r in a.rates}
    ri = by_key["p4d RI"]
    used = one(
        raw,
        f"SELECT SUM(CommitmentDiscountQuantity) FROM f WHERE {NOV} AND "
        f"CommitmentDiscountId = '{RI}' AND CommitmentDiscountStatus = 'Used'",
    )
    assert ri.unit == "Hours" and ri.numerator == pytest.approx(used)
    assert ri.ratio == pytest.approx(10 / 12)


def test_ri_coverage_for_ec2(cache):
    engine, raw = cache
    every = "ChargePeriodStart LIKE '2026-11-%'"
    a = ask(engine, "ri coverage for ec2 last month")
    assert a.kind == "commitment_coverage"
    covered = one(
        raw,
        f"SELECT SUM(ConsumedQuantity) FROM f WHERE {every} AND ServiceName = "
        "'Amazon Elastic Compute Cloud' AND CommitmentDiscountCategory = 'Usage' "
        "AND CommitmentDiscountStatus = 'Used'",
    )
    eligible = one(
        raw,
        f"SELECT SUM(ConsumedQuantity) FROM f WHERE {every} AND ServiceName = "
        "'Amazon Elastic Compute Cloud' AND ChargeCategory = 'Usage' AND "
        "PricingCategory != 'Dynamic' AND ConsumedUnit = 'Hours' AND "
        "COALESCE(CommitmentDiscountStatus, '') != 'Unused'",
    )
    # hours are no money: the EUR account's covered hours count too
    assert a.ratio == pytest.approx(covered / eligible) == pytest.approx(12 / 26)


def test_effective_savings_rate_over_list_and_contracted(cache):
    engine, raw = cache
    a = ask(engine, "effective savings rate last month")
    lst, eff = raw.execute(
        f"SELECT SUM(COALESCE(ListCost, 0)), SUM(EffectiveCost) FROM f WHERE {NOV} AND "
        "ChargeCategory = 'Usage'"  # an unused commitment's row: list 0, its cost counts
    ).fetchone()
    usd = next(r for r in a.rates if r.key == "over list price (USD)")
    assert usd.ratio == pytest.approx((lst - eff) / lst)
    assert a.ratio is None  # two currencies: one rate each, none added
    con, con_eff = raw.execute(
        f"SELECT SUM(ContractedCost), SUM(EffectiveCost) FROM f WHERE {NOV} AND "
        "ChargeCategory = 'Usage' AND ContractedCost IS NOT NULL"
    ).fetchone()
    contracted = next(r for r in a.rates if r.key.startswith("over contracted"))
    assert contracted.ratio == pytest.approx((con - con_eff) / con)
    assert any(r.key.startswith("over list price (EUR)") for r in a.rates)  # never added


def test_effective_savings_rate_by_service(cache):
    engine, raw = cache
    a = ask(engine, "effective savings rate by service last month")
    sage = next(r for r in a.rates if r.key.startswith("Amazon SageMaker"))
    lst, eff = raw.execute(
        f"SELECT SUM(COALESCE(ListCost, 0)), SUM(EffectiveCost) FROM f WHERE {NOV} AND "
        "ChargeCategory = 'Usage' AND ServiceName = 'Amazon SageMaker'"
    ).fetchone()
    assert sage.ratio == pytest.approx((lst - eff) / lst)


def test_unused_commitments_in_dollars_by_commitment(cache):
    engine, raw = cache
    a = ask(engine, "unused commitments last month")
    rows = {r.key: r.cost for r in a.rows}
    expected = dict(
        raw.execute(
            f"SELECT CommitmentDiscountName, SUM(EffectiveCost) FROM f WHERE {NOV} AND "
            "CommitmentDiscountStatus = 'Unused' GROUP BY 1"
        ).fetchall()
    )
    assert rows == pytest.approx(expected)
    assert a.totals == pytest.approx({"USD": sum(expected.values())})


def test_commitment_purchases_this_year(cache):
    engine, raw = cache
    a = ask(engine, "commitment purchases this year")
    assert a.measure == "BilledCost"
    assert a.totals == pytest.approx(
        {"USD": one(raw, "SELECT SUM(BilledCost) FROM f WHERE ChargeCategory = 'Purchase'")}
    )
    assert a.rows[0].key == "compute SP"


def test_commitments_expiring_from_purchase_rows(cache):
    engine, _ = cache
    a = ask(engine, "which commitments expire in the next 60 days")
    assert a.kind == "commitment_expiry"
    assert any("compute SP" in n and "2026-12-20" in n for n in a.notes)
    b = ask(engine, "which commitments expire in the next 10 days")
    assert not any("compute SP" in n for n in b.notes)


def test_a_cost_explorer_shaped_cache_is_unsupported(tmp_path):
    """A file without commitment columns (what a Cost Explorer source stores): the answer
    names the missing columns and the sources lacking them, never a zero."""
    from tests.conftest import charge, write_focus

    path = write_focus(
        tmp_path / "ce.csv", [charge(f"2026-11-{d:02d}", 10.0) for d in range(1, 29)]
    )
    db = connect(tmp_path / "c.db")
    import_file(db, path, rules=TAGS, now=NOW, source="aws-ce")
    a = Engine(db).ask("savings plan utilization last month", TODAY, NOW)
    d = a.to_dict()
    assert d["kind"] == "unsupported" and d["total"] is None and d["ratio"] is None
    assert "CommitmentDiscountStatus" in d["missing_columns"]
    assert d["sources_lacking"] == ["aws-ce"]
    assert "CommitmentDiscountStatus" in render_text(a)
    db.close()


@pytest.mark.parametrize("scenario", [1, 2, 3, 4])
def test_the_spec_usage_scenarios(shared_fixtures: Path, tmp_path, scenario):
    """FOCUS's own worked examples: a commitment fully used, wholly unused, 75% used."""
    path = (
        shared_fixtures
        / "focus"
        / "spec_examples"
        / (f"commitment_discount_usage_scenario_{scenario}.csv")
    )
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    db = connect(tmp_path / "c.db")
    import_file(db, path, rules=TAGS, now=NOW, currency="USD")
    a = Engine(db).ask("commitment utilization in january 2023", date(2023, 2, 1), NOW)
    expected = {1: 1.0, 2: 0.0, 3: 0.75, 4: 1.0}[scenario]
    assert a.rates and a.rates[0].ratio == pytest.approx(expected)
    db.close()


def test_a_scoped_audience_gets_rates_within_its_scope_and_no_org_wide_figures(cache):
    from finops_bot.access import scope_from_pairs

    engine, raw = cache
    scope = scope_from_pairs(["teams=nlp"])
    for question in (
        "savings plan utilization last month",
        "unused commitments last month",
        "which commitments expire in the next 60 days",
    ):
        a = engine.ask(question, TODAY, NOW, scope=scope)
        assert a.kind == "refused" and a.total is None and not a.rates, question
    a = engine.ask("effective savings rate last month", TODAY, NOW, scope=scope)
    usd = next(r for r in a.rates if r.key == "over list price (USD)")
    lst, eff = raw.execute(
        f"SELECT SUM(COALESCE(ListCost, 0)), SUM(EffectiveCost) FROM f WHERE {NOV} AND "
        "ChargeCategory = 'Usage' AND Tags LIKE '%\"team\": \"nlp\"%'"
    ).fetchone()
    assert usd.ratio == pytest.approx((lst - eff) / lst)


def test_a_named_kind_of_commitment_narrows_unused_and_expiry(cache):
    engine, _ = cache
    ri = ask(engine, "unused reservations last month")
    assert [r.key for r in ri.rows] == ["p4d RI"]
    sp = ask(engine, "unused savings plans last month")
    assert [r.key for r in sp.rows] == ["compute SP"]
    assert not any(
        "compute SP" in n
        for n in ask(engine, "which reservations expire in the next 60 days").notes
    )
    assert any(
        "compute SP" in n
        for n in ask(engine, "which savings plans expire in the next 60 days").notes
    )
