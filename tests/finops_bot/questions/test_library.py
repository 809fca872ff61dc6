"""The FOCUS use-case library end to end, on a third-party-shaped FOCUS 1.2 export
(library_data): every kind that answers is asked through Engine.ask on a real SQLite cache,
and its rows and totals are compared to the cent with a computation of our own over the
CSV as written (the csv module, no project code), one currency at a time. Also: a file
without the FOCUS 1.2 columns answers "unsupported" naming them, a team's scope sees its
share only and never invoices or billing sources, and a few hundred random questions built
from the library's words all come back as answers, never a number for an unknown name."""

from __future__ import annotations

import csv
import json
import random
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import date

import pytest

from finops_bot.access import Grant, Scope
from finops_bot.ingest.importer import import_file
from finops_bot.ingest.tags import TagRules
from finops_bot.questions import Engine
from finops_bot.questions.answer import Answer
from finops_bot.questions.library import KINDS, USE_CASES
from finops_bot.store import connect
from tests.finops_bot.questions import library_data as data

TODAY, NOW = data.TODAY, data.NOW
SEPTEMBER = (date(2026, 9, 1), date(2026, 9, 30))
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
NOVEMBER = (date(2026, 11, 1), TODAY)  # "this month"
THIS_YEAR = (date(2026, 1, 1), TODAY)
EC2 = {"Amazon Elastic Compute Cloud", "AmazonEC2"}  # what "ec2" names in the data
CENT = 0.005
NONE = "(none)"
NOT_ANSWERED = {"unsupported", "recurring_commitment_charges"}
NLP = Scope((Grant.of({"team": ["nlp"]}),), contact="#finops-help")


# -- the caches: the FOCUS 1.2 export, and the same charges without its extras ----------
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library")
    return data.write_library(folder / "focus12.csv"), data.write_plain(folder / "plain.csv")


def _engine(folder, path):
    db = connect(folder / f"{path.stem}.db")
    rules = TagRules({"project": ("project",), "team": ("team",), "owner": ("owner",)})
    import_file(db, path, rules=rules, now=NOW)
    return db, Engine(db)


@pytest.fixture(scope="module")
def engine(files, tmp_path_factory):
    db, engine = _engine(tmp_path_factory.mktemp("cache"), files[0])
    yield engine
    db.close()


@pytest.fixture(scope="module")
def plain(files, tmp_path_factory):
    db, engine = _engine(tmp_path_factory.mktemp("plain"), files[1])
    yield engine
    db.close()


@pytest.fixture(scope="module")
def rows(files) -> list[dict[str, str]]:
    """The export as written, read back with the csv module."""
    with files[0].open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def ask(engine: Engine, question: str, scope: Scope | None = None) -> Answer:
    return engine.ask(question, TODAY, NOW, scope=scope)


# -- the independent computation ---------------------------------------------------------
def num(value: str) -> float | None:
    return float(value) if value.strip() else None


def day(row) -> date:
    return date.fromisoformat(row["ChargePeriodStart"][:10])


def billing_month(row) -> date:
    return date.fromisoformat(row["BillingPeriodStart"][:10])


def charged_in(period) -> Callable[[dict], bool]:
    return lambda r: period[0] <= day(r) <= period[1]


def billed_in(period) -> Callable[[dict], bool]:
    return lambda r: period[0].replace(day=1) <= billing_month(r) <= period[1]


def tags(row) -> dict:
    return json.loads(row["Tags"]) if row["Tags"] else {}


def value(row, column: str) -> str:
    if column == "BillingPeriodStart":
        return row[column][:10]
    if column == "CapacityReservationStatus":  # allowed values, any case in the file
        return row[column].capitalize()
    return row[column]


def third_party(row) -> bool:
    return bool(row["PublisherName"]) and row["PublisherName"] not in data.FIRST_PARTY


def virtual(row) -> bool:
    return bool(row["PricingCurrency"]) and row["PricingCurrency"] != row["BillingCurrency"]


def expected(rows, by, measure, *keep, currency="BillingCurrency") -> dict[tuple, float]:
    """(key, currency) → Σ measure over the rows kept: the key joins ``by``'s values with
    " · ", "(none)" for an empty cell; one currency per group, never converted."""
    out: dict[tuple, float] = defaultdict(float)
    for row in rows:
        if all(k(row) for k in keep) and num(row[measure]) is not None:
            key = " · ".join(value(row, c) or NONE for c in by)
            out[(key, row[currency])] += num(row[measure])
    return dict(out)


def assert_rows(answer: Answer, want: dict[tuple, float], kind: str) -> None:
    """The answer's rows (largest first, at most 10) and totals are ``want``'s, to the cent,
    each in its own currency."""
    assert answer.kind == kind, (answer.kind, answer.message)
    want = {k: v for k, v in want.items() if abs(v) >= CENT}
    assert want, "the data must give this question something to sum"
    got: dict[tuple, float] = {}
    for row in answer.rows:
        assert (row.key, row.currency) not in got, f"one group twice: {row}"
        got[(row.key, row.currency)] = row.cost
    got = {k: v for k, v in got.items() if abs(v) >= CENT}
    for key, cost in got.items():
        assert key in want, f"{key} is not in the data: {sorted(want)}"
        assert cost == pytest.approx(want[key], abs=CENT), key
    if answer.more_rows == 0:
        assert set(got) == set(want)
    else:  # the ten largest shown, the rest counted
        assert len(answer.rows) == 10
        largest = sorted((abs(v) for v in want.values()), reverse=True)
        assert sorted((abs(v) for v in got.values()), reverse=True) == pytest.approx(
            largest[: len(got)], abs=CENT
        )
        assert len(answer.rows) + answer.more_rows == len(want)
        shown: dict[str, float] = defaultdict(float)
        for (_, currency), cost in got.items():
            shown[currency] += cost
        assert answer.rows_totals == pytest.approx(dict(shown), abs=CENT)
    totals: dict[str, float] = defaultdict(float)
    for (_, currency), cost in want.items():
        totals[currency] += cost
    assert set(answer.totals) == set(totals), "a currency added to another, or lost"
    for currency, total in totals.items():
        assert answer.totals[currency] == pytest.approx(total, abs=CENT), currency


# -- the grouped kinds: one question each, its columns summed from the CSV ----------------
def _usage(r) -> bool:
    return r["ChargeCategory"] == "Usage"


GROUPED = [
    # kind, question, by, measure, keep…, currency column
    (
        "billing_accounts",
        "which billing accounts and sub accounts do we have last month",
        ("BillingAccountName", "BillingAccountId", "SubAccountName", "SubAccountId"),
        "BilledCost",
        (charged_in(OCTOBER),),
        "BillingCurrency",
    ),
    (
        "billing_accounts",
        "which billing accounts and sub accounts do we have",  # no period: this month
        ("BillingAccountName", "BillingAccountId", "SubAccountName", "SubAccountId"),
        "BilledCost",
        (charged_in(NOVEMBER),),
        "BillingCurrency",
    ),
    (
        "billing_sources",
        "sources of billed cost last month",
        ("ProviderName", "InvoiceIssuerName", "PublisherName"),
        "BilledCost",
        (charged_in(OCTOBER),),
        "BillingCurrency",
    ),
    (
        "credits",
        "credits last month",
        ("ProviderName", "InvoiceId"),
        "BilledCost",
        (charged_in(OCTOBER), lambda r: r["ChargeCategory"] == "Credit"),
        "BillingCurrency",
    ),
    (
        "credits",
        "credits for account eu-analytics last month",
        ("ProviderName", "InvoiceId"),
        "BilledCost",
        (
            charged_in(OCTOBER),
            lambda r: r["ChargeCategory"] == "Credit",
            lambda r: r["SubAccountName"] == "eu-analytics",
        ),
        "BillingCurrency",
    ),
    (
        "taxes",
        "taxes last month",
        ("ProviderName", "SubAccountId"),
        "BilledCost",
        (charged_in(OCTOBER), lambda r: r["ChargeCategory"] == "Tax"),
        "BillingCurrency",
    ),
    (
        "taxes",
        "vat in september",
        ("ProviderName", "SubAccountId"),
        "BilledCost",
        (charged_in(SEPTEMBER), lambda r: r["ChargeCategory"] == "Tax"),
        "BillingCurrency",
    ),
    (  # billing periods, not charge days: the November-dated correction is October's
        "invoices",
        "invoices for october",
        ("InvoiceIssuerName", "InvoiceId"),
        "BilledCost",
        (billed_in(OCTOBER),),
        "BillingCurrency",
    ),
    (  # the open month: no InvoiceId yet
        "invoices",
        "reconcile invoices this month",
        ("InvoiceIssuerName", "InvoiceId"),
        "BilledCost",
        (billed_in(NOVEMBER),),
        "BillingCurrency",
    ),
    (  # charges of October corrected after its bill closed, by the period that billed them
        "corrections",
        "what changed in october's bill after it closed",
        ("BillingPeriodStart", "SubAccountId", "ServiceName"),
        "BilledCost",
        (charged_in(OCTOBER), lambda r: r["ChargeClass"] == "Correction"),
        "BillingCurrency",
    ),
    (
        "corrections",
        "corrections this month",
        ("BillingPeriodStart", "SubAccountId", "ServiceName"),
        "BilledCost",
        (charged_in(NOVEMBER), lambda r: r["ChargeClass"] == "Correction"),
        "BillingCurrency",
    ),
    (
        "marketplace",
        "marketplace spend last month",
        ("PublisherName", "ServiceName"),
        "EffectiveCost",
        (charged_in(OCTOBER), third_party),
        "BillingCurrency",
    ),
    (
        "marketplace",
        "cost by publisher this month",
        ("PublisherName", "ServiceName"),
        "EffectiveCost",
        (charged_in(NOVEMBER), third_party),
        "BillingCurrency",
    ),
    (
        "subcategories",
        "cost by service subcategory last month",
        ("ServiceCategory", "ServiceSubcategory"),
        "EffectiveCost",
        (charged_in(OCTOBER),),
        "BillingCurrency",
    ),
    (
        "zones",
        "cost by availability zone for account ml-prod last month",
        ("RegionId", "AvailabilityZone"),
        "EffectiveCost",
        (charged_in(OCTOBER), lambda r: r["SubAccountName"] == "ml-prod"),
        "BillingCurrency",
    ),
    (
        "zones",
        "cost by availability zone last month",
        ("RegionId", "AvailabilityZone"),
        "EffectiveCost",
        (charged_in(OCTOBER),),
        "BillingCurrency",
    ),
    (
        "capacity_reservations",
        "capacity reservations last month",
        ("CapacityReservationId", "CapacityReservationStatus"),
        "EffectiveCost",
        (charged_in(OCTOBER), lambda r: bool(r["CapacityReservationId"])),
        "BillingCurrency",
    ),
    (
        "unused_capacity_reservations",
        "unused capacity reservations last month",
        ("CapacityReservationId",),
        "EffectiveCost",
        (charged_in(OCTOBER), lambda r: r["CapacityReservationStatus"].lower() == "unused"),
        "BillingCurrency",
    ),
    (  # amounts in each PricingCurrency: CREDITS, USD and EUR apart
        "pricing_currency",
        "effective cost by pricing currency last month",
        ("PricingCurrency",),
        "PricingCurrencyEffectiveCost",
        (charged_in(OCTOBER), lambda r: bool(r["PricingCurrency"])),
        "PricingCurrency",
    ),
    (
        "virtual_currency",
        "virtual currency used last month",
        ("PricingCurrency",),
        "PricingCurrencyEffectiveCost",
        (charged_in(OCTOBER), virtual, _usage),
        "PricingCurrency",
    ),
    (
        "virtual_currency_targets",
        "what did we spend virtual currency on last month",
        ("ServiceName", "PricingCurrency"),
        "PricingCurrencyEffectiveCost",
        (charged_in(OCTOBER), virtual),
        "PricingCurrency",
    ),
    (
        "virtual_currency_purchases",
        "virtual currency purchases this year",
        ("PricingCurrency",),
        "BilledCost",
        (charged_in(THIS_YEAR), virtual, lambda r: r["ChargeCategory"] == "Purchase"),
        "BillingCurrency",
    ),
    (
        "sku_meters",
        "metered costs for sku wandb-teams-seat last month",
        ("PricingUnit", "PricingCategory", "ChargeCategory"),
        "EffectiveCost",
        (charged_in(OCTOBER), lambda r: r["SkuId"] == "wandb-teams-seat"),
        "BillingCurrency",
    ),
    (
        "resource_components",
        f"cost of resource {data.DEV_INSTANCE} last month",
        ("ServiceName", "SkuId", "ChargeCategory"),
        "EffectiveCost",
        (charged_in(OCTOBER), lambda r: r["ResourceId"] == data.DEV_INSTANCE),
        "BillingCurrency",
    ),
    (  # not whole months: the period's own facts
        "resource_components",
        f"cost of resource {data.DEV_INSTANCE} between 2026-10-05 and 2026-10-20",
        ("ServiceName", "SkuId", "ChargeCategory"),
        "EffectiveCost",
        (
            charged_in((date(2026, 10, 5), date(2026, 10, 20))),
            lambda r: r["ResourceId"] == data.DEV_INSTANCE,
        ),
        "BillingCurrency",
    ),
    (  # the month so far
        "resource_components",
        f"cost of resource {data.DEV_INSTANCE} this month",
        ("ServiceName", "SkuId", "ChargeCategory"),
        "EffectiveCost",
        (charged_in(NOVEMBER), lambda r: r["ResourceId"] == data.DEV_INSTANCE),
        "BillingCurrency",
    ),
    (  # both spellings of EC2, and the EUR account's apart
        "skus",
        "cost by sku for ec2 last month",
        ("SkuId",),
        "EffectiveCost",
        (charged_in(OCTOBER), lambda r: r["ServiceName"] in EC2),
        "BillingCurrency",
    ),
    (
        "resources",
        "top resources for bert-training last month",
        ("ResourceId",),
        "EffectiveCost",
        (charged_in(OCTOBER), lambda r: tags(r).get("project") == "bert-training"),
        "BillingCurrency",
    ),
    (
        "resources",
        "top resources for account ml-dev in september",
        ("ResourceId",),
        "EffectiveCost",
        (charged_in(SEPTEMBER), lambda r: r["SubAccountName"] == "ml-dev"),
        "BillingCurrency",
    ),
]


@pytest.mark.parametrize(
    ("kind", "question", "by", "measure", "keep", "currency"),
    GROUPED,
    ids=[f"{g[0]}:{g[1]}" for g in GROUPED],
)
def test_a_grouped_kind_sums_its_columns_to_the_cent(
    engine, rows, kind, question, by, measure, keep, currency
):
    answer = ask(engine, question)
    assert_rows(answer, expected(rows, by, measure, *keep, currency=currency), kind)
    assert answer.measure == measure
    assert answer.has_number and answer.to_dict()["kind"] == kind


def test_every_currency_stays_apart(engine, rows):
    """The EUR account is summed on its own everywhere, and a pricing currency is never a
    billing one: no total of these answers adds EUR to USD or credits to either."""
    eur = [r for r in rows if r["BillingCurrency"] == "EUR" and charged_in(OCTOBER)(r)]
    assert eur and {r["SubAccountName"] for r in eur} == {"eu-analytics"}
    for question in (
        "which billing accounts and sub accounts do we have last month",
        "cost by service subcategory last month",
        "taxes last month",
        "credits last month",
        "cost by sku for ec2 last month",
    ):
        answer = ask(engine, question)
        assert set(answer.totals) == {"USD", "EUR"}, question
        assert answer.total is None  # two currencies: no single total
        assert answer.totals["EUR"] == pytest.approx(
            sum(
                num(r[answer.measure]) or 0.0
                for r in rows
                if r["BillingCurrency"] == "EUR" and charged_in(OCTOBER)(r) and _kept(answer, r)
            ),
            abs=CENT,
        )
    vc = ask(engine, "effective cost by pricing currency last month")
    assert set(vc.totals) == {"USD", "EUR", "CREDITS"}


def _kept(answer: Answer, row) -> bool:
    """The row filter each question of test_every_currency_stays_apart applies."""
    if answer.kind == "taxes":
        return row["ChargeCategory"] == "Tax"
    if answer.kind == "credits":
        return row["ChargeCategory"] == "Credit"
    if answer.kind == "skus":
        return row["ServiceName"] in EC2
    return True


# -- the kinds of their own shape -----------------------------------------------------------
def _unit_groups(rows, *keep) -> dict[tuple, list[float]]:
    """(ServiceName, ConsumedUnit, BillingCurrency) → [EffectiveCost, ConsumedQuantity] of
    the rows with a unit."""
    out: dict[tuple, list[float]] = {}
    for r in rows:
        if all(k(r) for k in keep) and r["ConsumedUnit"]:
            cell = out.setdefault(
                (r["ServiceName"], r["ConsumedUnit"], r["BillingCurrency"]), [0, 0]
            )
            cell[0] += num(r["EffectiveCost"]) or 0.0
            cell[1] += num(r["ConsumedQuantity"]) or 0.0
    return out


def _unit_rows(answer: Answer) -> dict[tuple, object]:
    out = {}
    for row in answer.rows:
        service, unit = row.key.rsplit(" · ", 1)
        assert unit == row.unit
        assert (service, unit, row.currency) not in out
        out[(service, unit, row.currency)] = row
    return out


@pytest.mark.parametrize(
    ("question", "keep"),
    [
        ("usage for ec2 last month", lambda r: r["ServiceName"] in EC2),
        ("how many vcpu-hours did we use last month", lambda r: r["ConsumedUnit"] == "vCPU-Hours"),
        ("usage for account ml-dev this month", lambda r: r["SubAccountName"] == "ml-dev"),
    ],
)
def test_usage_sums_each_unit_apart(engine, rows, question, keep):
    period = NOVEMBER if "this month" in question else OCTOBER
    answer = ask(engine, question)
    assert answer.kind == "usage" and answer.unit == "quantity"
    want = _unit_groups(rows, charged_in(period), keep)
    got = _unit_rows(answer)
    assert set(got) == set(want)
    for key, (cost, quantity) in want.items():
        assert got[key].quantity == pytest.approx(quantity, abs=CENT), key
        assert got[key].cost == pytest.approx(cost, abs=CENT), key
    units = {unit for _, unit, _ in want}
    if len(units) == 1:  # one unit: its quantity added up; several: never
        assert answer.quantity == pytest.approx(sum(q for _, q in want.values()), abs=CENT)
    else:
        assert answer.quantity is None
    assert not answer.totals


def test_average_rate_is_cost_over_quantity_of_the_unit_asked(engine, rows):
    answer = ask(engine, "average cost per vcpu-hour last month")
    assert answer.kind == "average_rate" and answer.unit == "money_per_unit"
    want = _unit_groups(rows, charged_in(OCTOBER), lambda r: r["ConsumedUnit"] == "vCPU-Hours")
    got = _unit_rows(answer)
    assert set(got) == set(want) and len(want) == 3  # EC2 twice (two spellings), EUR apart
    for key, (cost, quantity) in want.items():
        assert got[key].quantity == pytest.approx(quantity, abs=CENT)
        assert got[key].cost == pytest.approx(cost / quantity, abs=1e-6), key
    every = ask(engine, "average rate for ec2 last month")
    want = _unit_groups(rows, charged_in(OCTOBER), lambda r: r["ServiceName"] in EC2)
    got = _unit_rows(every)
    assert set(got) == {k for k, (_, q) in want.items() if q}
    for key in got:
        assert got[key].cost == pytest.approx(want[key][0] / want[key][1], abs=1e-6), key


def test_usage_history_is_per_month_and_unit(engine, rows):
    answer = ask(engine, "monthly usage and rates for ec2 this year")
    assert answer.kind == "usage_history"
    want: dict[tuple, list[float]] = {}
    for r in rows:
        if r["ServiceName"] in EC2 and r["ConsumedUnit"] and charged_in(THIS_YEAR)(r):
            key = (f"{day(r):%Y-%m}", r["ConsumedUnit"], r["BillingCurrency"])
            cell = want.setdefault(key, [0.0, 0.0])
            cell[0] += num(r["EffectiveCost"]) or 0.0
            cell[1] += num(r["ConsumedQuantity"]) or 0.0
    got = {}
    for row in answer.rows:
        month, unit, rate = row.key.split(" · ")
        got[(month, unit, row.currency)] = row
        amount, per = rate.split(" ")
        assert per == f"{row.currency}/unit"
        assert float(amount.replace(",", "")) == pytest.approx(row.cost / row.quantity, abs=1e-4)
    assert set(got) == set(want)
    assert {m for m, _, _ in got} == {"2026-09", "2026-10", "2026-11"}
    for key, (cost, quantity) in want.items():
        assert got[key].cost == pytest.approx(cost, abs=CENT), key
        assert got[key].quantity == pytest.approx(quantity, abs=CENT), key


def test_usage_compare_is_quantity_per_unit_in_both_periods(engine, rows):
    answer = ask(engine, "compare usage of ec2 last month vs the month before")
    assert answer.kind == "usage_compare"

    def quantities(period):
        out: dict[tuple, float] = defaultdict(float)
        for r in rows:
            if r["ServiceName"] in EC2 and r["ConsumedUnit"] and charged_in(period)(r):
                out[(r["ConsumedUnit"], r["BillingCurrency"])] += num(r["ConsumedQuantity"]) or 0
        return out

    now, then = quantities(OCTOBER), quantities(SEPTEMBER)
    got = {(row.key, row.currency): row for row in answer.rows}
    assert set(got) == set(now) | set(then)
    for key, row in got.items():
        assert row.quantity == pytest.approx(now.get(key, 0.0), abs=CENT), key
        assert row.previous_quantity == pytest.approx(then.get(key, 0.0), abs=CENT), key


@pytest.mark.parametrize(
    ("question", "key", "keep"),
    [
        ("tag coverage for aws last month", "project", lambda r: r["ProviderName"] == "AWS"),
        ("tag coverage for team last month", "team", lambda r: True),
        ("tag coverage for env last month", "env", lambda r: True),
    ],
)
def test_tag_coverage_is_the_tagged_share_per_currency(engine, rows, question, key, keep):
    answer = ask(engine, question)
    assert answer.kind == "tag_coverage" and answer.unit == "ratio"
    per: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    services: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in rows:
        if charged_in(OCTOBER)(r) and keep(r):
            cost = num(r["EffectiveCost"])
            tagged = cost if tags(r).get(key) else 0.0  # an empty value is no tag
            for cell in (
                per[r["BillingCurrency"]],
                services[(r["ServiceName"], r["BillingCurrency"])],
            ):
                cell[0] += tagged
                cell[1] += cost
    rates = {rate.key: rate for rate in answer.rates}
    for currency, (tagged, total) in per.items():
        rate = rates[f"all ({currency})"]
        assert rate.unit == currency
        assert rate.numerator == pytest.approx(tagged, abs=CENT)
        assert rate.denominator == pytest.approx(total, abs=CENT)
        assert rate.ratio == pytest.approx(tagged / total, abs=1e-6)
    assert answer.ratio is None  # two currencies: no single ratio
    if key in ("project", "team", "owner"):  # and per service, the largest ten
        shown = [r for r in answer.rates if not r.key.startswith("all (")]
        assert len(shown) == min(10, len([s for s in services.values() if s[1]]))
        for rate in shown:
            service, currency = re.fullmatch(r"(.*) \((\w+)\)", rate.key).groups()
            tagged, total = services[(service, currency)]
            assert rate.numerator == pytest.approx(tagged, abs=CENT), rate.key
            assert rate.denominator == pytest.approx(total, abs=CENT), rate.key
        largest = sorted((s[1] for s in services.values() if s[1]), reverse=True)[: len(shown)]
        assert sorted((r.denominator for r in shown), reverse=True) == pytest.approx(
            largest, abs=CENT
        )


def test_discount_accuracy_over_the_billing_periods_usage(engine, rows):
    answer = ask(engine, "verify discounts for october")
    assert answer.kind == "discount_accuracy" and answer.unit == "ratio"
    sums: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for r in rows:
        if r["ChargeCategory"] == "Usage" and billed_in(OCTOBER)(r):
            cell = sums[(r["ServiceName"], r["BillingCurrency"])]
            cell[0] += num(r["ListCost"]) or 0.0
            cell[1] += num(r["ContractedCost"]) or 0.0
            cell[2] += num(r["EffectiveCost"]) or 0.0
    want = {}
    for (service, currency), (listed, contracted, effective) in sums.items():
        if listed:
            want[f"{service} ({currency})"] = (listed - effective, listed)
        if contracted:
            want[f"{service} ({currency}), contracted"] = (contracted - effective, contracted)
    got = {rate.key: rate for rate in answer.rates}
    assert len(got) == min(20, len(want))
    for key, rate in got.items():
        numerator, denominator = want[key]
        assert rate.numerator == pytest.approx(numerator, abs=CENT), key
        assert rate.denominator == pytest.approx(denominator, abs=CENT), key
        assert rate.ratio == pytest.approx(numerator / denominator, abs=1e-6), key
    # the EUR account's EC2 is rated apart from the USD accounts'
    assert (
        "Amazon Elastic Compute Cloud (EUR)" in got and "Amazon Elastic Compute Cloud (USD)" in got
    )


def _savings(rows, period) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for r in rows:
        prices = (
            num(r["PricingCurrencyListUnitPrice"]),
            num(r["PricingCurrencyContractedUnitPrice"]),
        )
        quantity = num(r["PricingQuantity"])
        if virtual(r) and charged_in(period)(r) and None not in prices and quantity is not None:
            out[r["PricingCurrency"]] += (prices[0] - prices[1]) * quantity
    return dict(out)


def test_virtual_currency_savings_are_list_minus_contracted_unit_prices(engine, rows):
    for question, period in (
        ("contracted savings by virtual currency last month", OCTOBER),
        ("virtual currency savings this month", NOVEMBER),
    ):
        answer = ask(engine, question)
        assert answer.kind == "virtual_currency_savings"
        want = _savings(rows, period)
        assert want and set(answer.totals) == set(want) == {"CREDITS"}
        assert answer.totals["CREDITS"] == pytest.approx(want["CREDITS"], abs=CENT)
        assert [(r.key, r.currency) for r in answer.rows] == [("CREDITS", "CREDITS")]


def test_virtual_currency_savings_when_a_contracted_price_changes_within_a_day(tmp_path):
    """The day roll-up keeps Σ price × quantity where its rows disagree on a price."""
    base = [
        r
        for r in data.charges()
        if r.get("ResourceId") == "WH_BI" and r["ChargePeriodStart"].startswith("2026-10-1")
    ]
    split = next(r for r in base if r["ChargePeriodStart"].startswith("2026-10-12"))
    base.remove(split)
    for hours, price in (("00", "3.2"), ("12", "3")):  # a new contract from noon
        end = "2026-10-12T12:00:00Z" if hours == "00" else "2026-10-13T00:00:00Z"
        credits = float(price)
        base.append(
            {
                **split,
                "ChargePeriodStart": f"2026-10-12T{hours}:00:00Z",
                "ChargePeriodEnd": end,
                "PricingQuantity": "1",
                "ConsumedQuantity": "1",
                "PricingCurrencyContractedUnitPrice": price,
                "PricingCurrencyEffectiveCost": price,
                "BilledCost": str(credits * data.CREDIT_PRICE),
                "EffectiveCost": str(credits * data.CREDIT_PRICE),
                "ListCost": str(4 * data.CREDIT_PRICE),
            }
        )
    path = data.write(tmp_path / "price-change.csv", base)
    db, engine = _engine(tmp_path, path)
    try:
        answer = ask(engine, "contracted savings by virtual currency last month")
        want = _savings(list(csv.DictReader(path.open(newline="", encoding="utf-8"))), OCTOBER)
        assert answer.totals["CREDITS"] == pytest.approx(want["CREDITS"], abs=CENT)
    finally:
        db.close()


@pytest.mark.parametrize(
    ("question", "column", "wanted", "by"),
    [
        (
            f"metered costs for sku {data.SKU_DEV} last month",
            "SkuId",
            data.SKU_DEV,
            ("PricingUnit", "PricingCategory", "ChargeCategory"),
        ),
        (
            "cost of resource WH_ETL last month",
            "ResourceId",
            "WH_ETL",
            ("ServiceName", "SkuId", "ChargeCategory"),
        ),
    ],
)
def test_an_upper_case_sku_or_resource_as_the_export_spells_it(
    engine, rows, question, column, wanted, by
):
    answer = ask(engine, question)
    keep = (charged_in(OCTOBER), lambda r: r[column] == wanted)
    assert_rows(answer, expected(rows, by, "EffectiveCost", *keep), answer.kind)


@pytest.mark.parametrize(
    "question",
    [
        "cost by resource for account ml-dev in september",
        "cost per resource for account ml-dev in september",
    ],
)
def test_cost_by_resource_for_a_subject(engine, rows, question):
    keep = (charged_in(SEPTEMBER), lambda r: r["SubAccountName"] == "ml-dev")
    assert_rows(
        ask(engine, question), expected(rows, ("ResourceId",), "EffectiveCost", *keep), "resources"
    )


@pytest.mark.parametrize(
    "question",
    [
        "cost by availability zone for tag env prod last month",
        "credits for tag env prod last month",
        "unused commitments for tag env prod last month",
    ],
)
def test_a_library_answer_about_an_unconfigured_tag_says_why_not(engine, question):
    """The detail columns are kept per dimension; a tag key that is not one is refused by
    name (summing every charge under the tag's title was the bug)."""
    answer = ask(engine, question)
    assert answer.kind == "error" and not answer.rows and not answer.totals
    assert "tag env prod" in answer.message and "[allocation] dimensions" in answer.message
    assert answer.suggestions == ["cost for tag env prod last month"]


def test_recurring_commitment_charges_are_not_kept(engine):
    """The file carries ChargeFrequency, but the cache does not keep it."""
    answer = ask(engine, "recurring commitment charges this year")
    assert answer.kind == "unsupported" and answer.missing_columns == ["ChargeFrequency"]
    assert not answer.has_number and not answer.totals


def test_every_kind_that_answers_is_tested_here():
    asked = {g[0] for g in GROUPED} | {
        "usage",
        "average_rate",
        "usage_history",
        "usage_compare",
        "tag_coverage",
        "discount_accuracy",
        "virtual_currency_savings",
    }
    assert set(KINDS) - NOT_ANSWERED == asked


# -- a file without the FOCUS 1.2 columns -----------------------------------------------------
def _example(use) -> str:
    return use.example.replace("acct-1", "ml-prod").replace("compute engine", "ec2")


@pytest.mark.parametrize("use", USE_CASES, ids=lambda u: u.kind)
def test_without_the_columns_a_kind_says_which_are_missing(plain, files, use):
    missing = [c for c in use.needs if c not in data.PLAIN_COLUMNS]
    answer = ask(plain, _example(use))
    if not missing:
        assert answer.kind == use.kind, (answer.kind, answer.message)
        return
    assert answer.kind == "unsupported", (use.kind, answer.kind)
    assert answer.missing_columns == missing
    if "ChargeFrequency" not in missing:  # a column not kept is no source's fault
        assert answer.sources_lacking == [f"file:{files[1].resolve()}"]
    assert not answer.totals and not answer.rows and not answer.has_number
    for column in missing:
        assert column in answer.message


@pytest.mark.parametrize(
    "question",
    [
        "which billing accounts and sub accounts do we have last month",
        "credits last month",
        "taxes last month",
        "cost by sku for ec2 last month",
        "top resources for bert-training last month",
        f"cost of resource {data.DEV_INSTANCE} last month",
    ],
)
def test_without_the_columns_the_same_charges_add_up_the_same(engine, plain, question):
    full, bare = ask(engine, question), ask(plain, question)
    assert bare.kind == full.kind
    assert set(bare.totals) == set(full.totals)
    for currency, total in full.totals.items():
        assert bare.totals[currency] == pytest.approx(total, abs=CENT)


# -- a team's scope ---------------------------------------------------------------------------
def _nlp(r) -> bool:
    return tags(r).get("team") == "nlp"


@pytest.mark.parametrize(
    ("kind", "question", "by", "measure", "keep"),
    [
        (
            "subcategories",
            "cost by service subcategory last month",
            ("ServiceCategory", "ServiceSubcategory"),
            "EffectiveCost",
            (charged_in(OCTOBER),),
        ),
        (
            "marketplace",
            "marketplace spend last month",
            ("PublisherName", "ServiceName"),
            "EffectiveCost",
            (charged_in(OCTOBER), third_party),
        ),
        (
            "corrections",
            "corrections for october",
            ("BillingPeriodStart", "SubAccountId", "ServiceName"),
            "BilledCost",
            (charged_in(OCTOBER), lambda r: r["ChargeClass"] == "Correction"),
        ),
        (
            "zones",
            "cost by availability zone last month",
            ("RegionId", "AvailabilityZone"),
            "EffectiveCost",
            (charged_in(OCTOBER),),
        ),
        (
            "billing_accounts",
            "which billing accounts and sub accounts do we have last month",
            ("BillingAccountName", "BillingAccountId", "SubAccountName", "SubAccountId"),
            "BilledCost",
            (charged_in(OCTOBER),),
        ),
    ],
)
def test_a_team_sees_its_share_only(engine, rows, kind, question, by, measure, keep):
    answer = ask(engine, question, NLP)
    assert answer.scope == "team nlp"
    assert_rows(answer, expected(rows, by, measure, *keep, _nlp), kind)
    assert any("within the access scope (team nlp)" in n for n in answer.notes)


@pytest.mark.parametrize(
    "question",
    [
        "invoices for october",
        "reconcile invoices for october",
        "sources of billed cost last month",
        "who bills us last month",
    ],
)
def test_a_team_is_refused_invoices_and_billing_sources(engine, question):
    answer = ask(engine, question, NLP)
    assert answer.kind == "refused", (answer.kind, answer.title)
    assert not answer.totals and not answer.rows and not answer.has_number
    assert "#finops-help" in (answer.message or "")
    assert ask(engine, question).kind in ("invoices", "billing_sources")


# -- random questions ---------------------------------------------------------------------------
WORDS = [
    "credits", "taxes", "vat", "invoices", "reconcile", "corrections", "marketplace",
    "publisher", "vendors", "sub accounts", "billing accounts", "sources of billed cost",
    "invoice issuers", "virtual currency", "pricing currency", "capacity reservations",
    "unused capacity reservations", "availability zone", "subcategory", "metered costs for sku",
    "cost of resource", "by sku", "top resources", "average cost per vcpu-hour", "usage",
    "usage and rates", "compare usage", "tag coverage", "discounts", "savings",
    "recurring commitment charges", "purchases", "what changed in the bill after it closed",
]  # fmt: skip
KNOWN = ["ec2", "aws", "account ml-prod", "account eu-analytics", "bert-training", "team nlp"]
PERIODS = [
    "", "last month", "this month", "this year", "for october", "in september",
    "last 30 days", "last week", "yesterday", "between 2026-10-05 and 2026-10-20",
    "this quarter", "for november", "month over month", "vs the month before",
]  # fmt: skip


COUNT, SEED = 300, 20261120


def _unknown(rng: random.Random) -> str:
    return "q" + "".join(rng.choice("bdfgjkvwxz") for _ in range(rng.randint(5, 9)))


def test_random_library_questions_always_answer_and_never_invent_a_number(engine):
    rng = random.Random(SEED)
    for i in range(COUNT):
        words = rng.sample(WORDS, rng.randint(1, 2))
        if len(words) == 2 and "tag coverage" in words:  # "tag coverage X" names a tag:
            words.remove("tag coverage")  # test_a_library_answer_about_an_unconfigured_tag
        unknown = i % 3 == 0
        name = _unknown(rng) if unknown else rng.choice(KNOWN + [""])
        sku = rng.choice(["", f" {rng.choice([data.SKU_DEV, 'wandb-teams-seat', _unknown(rng)])}"])
        if unknown:
            name = rng.choice(["", "account ", "team ", "service ", "project "]) + name
        parts = [*words, ("for " + name) if name else "", rng.choice(PERIODS)]
        if "sku" in words[0] or "resource" in words[0]:
            parts[0] += sku or f" {_unknown(rng)}"
        rng.shuffle(parts[1:])
        question = re.sub(r"\s+", " ", " ".join(parts)).strip()
        answer = ask(engine, question)
        assert isinstance(answer, Answer) and answer.kind, question
        json.dumps(answer.to_dict())
        for row in answer.rows:
            assert row.currency in ("USD", "EUR", "CREDITS", ""), (question, row)
        if unknown and answer.kind == "tag_coverage":  # "for X": the tag key X, on nothing
            assert all(r.numerator == 0 for r in answer.rates), question
        elif unknown and answer.kind not in ("help", "not_understood"):
            assert not answer.totals and not answer.rates, (question, answer.kind)
            assert answer.quantity is None and answer.ratio is None, question
            assert not [r for r in answer.rows if r.cost or r.quantity], (question, answer.kind)
