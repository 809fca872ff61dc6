"""Subjects: provider words, every service spelling, service categories, candidates, any
dimension broken down by any other — each answer checked against an independent SQL sum
over the facts, on a cache whose files spell providers and services as real exports do."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from finops_bot.ingest.importer import import_file
from finops_bot.questions import Engine
from finops_bot.questions.aliases import SERVICES
from finops_bot.questions.names import rank_key
from finops_bot.store.schema import SUBJECT_COLUMNS
from tests.conftest import NOW, TODAY, charge, write_focus

OCTOBER = ("2026-10-01", "2026-10-31")
# (provider as the file spells it, service as the file spells it, category, account, name)
SPELLINGS = [
    ("AWS", "Amazon Elastic Compute Cloud", "Compute", "111", "ml-prod"),
    ("Amazon Web Services", "AmazonEC2", "Compute", "111", "ml-prod"),
    ("AWS", "AWS Data Transfer", "Networking", "111", "ml-prod"),
    ("AWS", "AmazonS3", "Storage", "222", "ml-research"),
    ("AWS", "Amazon Simple Storage Service", "Storage", "222", "ml-research"),
    ("AWS", "AmazonCloudWatch", "Management and Governance", "222", "ml-research"),
    ("Google Cloud", "Compute Engine", "Compute", "ml-prod-4821", "ml-prod"),
    ("Google Cloud", "Cloud Storage", "Storage", "ml-prod-4821", "ml-prod"),
    ("Google Cloud", "Kubernetes Engine", "Compute", "ml-prod-4821", "ml-prod"),
    ("Google Cloud", "Google Kubernetes Engine", "Compute", "ml-prod-4821", "ml-prod"),
    ("Microsoft", "Virtual Machines", "Compute", "sub-1", "speech"),
    ("Microsoft Azure", "Azure Blob Storage", "Storage", "sub-1", "speech"),
    ("Microsoft Azure", "Storage", "Storage", "sub-1", "speech"),
]


@pytest.fixture
def engine(db, rules, tmp_path):
    rows = []
    day = date(2026, 10, 1)
    for i in range(45):
        d = (day + timedelta(days=i)).isoformat()
        for j, (provider, service, category, account, name) in enumerate(SPELLINGS):
            row = charge(
                d,
                10 + j + i % 7,
                provider=provider,
                service=service,
                account=account,
                region=["us-east-1", "us-central1", "eastus"][j % 3],
                project=["bert-training", "nlp", "recsys"][j % 3],
                team=["nlp", "vision"][j % 2],
                owner=["alice@acme.ai", "bob@acme.ai"][(i + j) % 2],
                pricing=["Standard", "Dynamic", "Committed"][(i + j) % 3],
                resource=f"r-{j}",
            )
            row.update(ServiceCategory=category, SubAccountName=name)
            rows.append(row)
    import_file(db, write_focus(tmp_path / "org.csv", rows), rules=rules, now=NOW)
    return Engine(db)


def sql_total(db, where: str, params: tuple = (), period=OCTOBER) -> float:
    return db.execute(
        "SELECT COALESCE(SUM(EffectiveCost), 0) FROM focus_charges "
        f"WHERE ChargeDay BETWEEN ? AND ? AND ({where})",
        (*period, *params),
    ).fetchone()[0]


def ask(engine, question):
    return engine.ask(question, TODAY, NOW)


@pytest.mark.parametrize(
    "word, spellings",
    [
        ("aws", ("AWS", "Amazon Web Services")),
        ("amazon", ("AWS", "Amazon Web Services")),
        ("AWS", ("AWS", "Amazon Web Services")),
        ("azure", ("Microsoft", "Microsoft Azure")),
        ("microsoft", ("Microsoft", "Microsoft Azure")),
        ("gcp", ("Google Cloud",)),
        ("google", ("Google Cloud",)),
    ],
)
def test_a_provider_word_is_the_whole_provider(engine, word, spellings):
    a = ask(engine, f"what did {word} cost last month")
    marks = ",".join("?" * len(spellings))
    assert a.kind == "cost" and next(iter(a.filters)) == "provider"
    assert a.total == pytest.approx(sql_total(engine.db, f"ProviderName IN ({marks})", spellings))
    assert sorted(a.summed["ProviderName"]) == sorted(spellings)


@pytest.mark.parametrize("service", [s for s in SERVICES if s.words], ids=lambda s: s.label)
def test_every_service_alias_sums_every_spelling(engine, service):
    present = {row[1] for row in SPELLINGS} & set(service.spellings)
    for word in service.words:
        a = ask(engine, f"service {word} last month")
        if not present:
            assert a.kind in ("unknown_name", "not_understood", "candidates")
            continue
        if a.kind == "candidates":  # "sql", "functions": several services on several clouds
            assert len(a.candidates) > 1 and a.total is None
            continue
        marks = ",".join("?" * len(present))
        expected = sql_total(engine.db, f"ServiceName IN ({marks})", tuple(present))
        assert a.total == pytest.approx(expected), word
        assert set(a.summed["ServiceName"]) == present


def test_a_full_name_also_sums_the_product_code(engine):
    a = ask(engine, "amazon elastic compute cloud last month")
    expected = sql_total(engine.db, "ServiceName IN ('Amazon Elastic Compute Cloud', 'AmazonEC2')")
    assert a.total == pytest.approx(expected)


def test_a_service_category_word_is_that_category(engine):
    a = ask(engine, "storage costs last month")
    assert a.filters == {"category": "Storage"}
    assert a.total == pytest.approx(sql_total(engine.db, "ServiceCategory = 'Storage'"))


def test_a_name_matching_several_things_gets_candidates_never_a_number(engine):
    a = ask(engine, "nlp last month")
    assert (a.kind, a.total) == ("candidates", None)
    dims = sorted(c.dimension for c in a.candidates)
    assert dims == ["project", "team"]
    assert sorted(a.suggestions) == ["project nlp last month", "team nlp last month"]
    assert {r.key for r in a.rows} == {"project nlp", "team nlp"}
    team = next(r for r in a.rows if r.key == "team nlp")
    assert team.cost == pytest.approx(sql_total(engine.db, "team = 'nlp'"))
    assert a.to_dict()["candidates"][0]["question"] in a.suggestions


def test_two_accounts_with_one_name_on_two_clouds_are_not_added(engine):
    a = ask(engine, "account ml-prod last month")
    assert a.kind == "candidates"
    assert sorted(c.name for c in a.candidates) == ["ml-prod (111)", "ml-prod (ml-prod-4821)"]
    one = ask(engine, "account 111 last month")
    assert one.title == "Account ml-prod (111)"
    assert one.total == pytest.approx(sql_total(engine.db, "SubAccountId = '111'"))


def test_a_subject_is_never_dropped(engine):
    db = engine.db
    aws = "ProviderName IN ('AWS', 'Amazon Web Services')"
    a = ask(engine, "provider aws by region last month")
    assert (a.kind, a.filters) == ("breakdown", {"provider": "AWS"})
    assert a.total == pytest.approx(sql_total(db, aws))
    a = ask(engine, "top 5 services for provider aws last month")
    assert a.kind == "top" and a.title == "Top 5 services of Provider AWS"
    assert a.total == pytest.approx(sql_total(db, aws))
    ec2 = next(r for r in a.rows if r.key == "Amazon Elastic Compute Cloud")  # both spellings
    assert ec2.cost == pytest.approx(
        sql_total(db, f"{aws} AND ServiceName IN ('Amazon Elastic Compute Cloud', 'AmazonEC2')")
    )
    assert [r.key for r in a.rows][:2] == ["Amazon Simple Storage Service", ec2.key]
    a = ask(engine, "owner alice@acme.ai by account last month")
    assert a.total == pytest.approx(sql_total(db, "owner = 'alice@acme.ai'"))


FOCUS_COLUMN = {
    "project": "project",
    "team": "team",
    "owner": "owner",
    "service": "ServiceName",
    "account": "SubAccountId",
    "provider": "ProviderName",
    "region": "RegionId",
    "category": "ServiceCategory",
    "pricing": "PricingCategory",
}
SUBJECTS = {
    "project": "bert-training",
    "team": "vision",
    "owner": "bob@acme.ai",
    "service": "ec2",
    "account": "222",
    "provider": "gcp",
    "region": "eastus",
    "category": "storage",
}


@pytest.mark.parametrize(
    "dim, by", [(d, b) for d in sorted(SUBJECTS) for b in sorted(SUBJECT_COLUMNS) if d != b]
)
def test_any_dimension_by_any_other_matches_sql(engine, dim, by):
    a = ask(engine, f"{dim} {SUBJECTS[dim]} by {by} last month")
    assert a.kind == "breakdown", (dim, by, a.kind, a.message)
    values = a.summed[
        {"project": "Tags.project", "team": "Tags.team", "owner": "Tags.owner"}.get(
            dim, FOCUS_COLUMN[dim]
        )
    ]
    marks = ",".join("?" * len(values))
    where = f"{FOCUS_COLUMN[dim]} IN ({marks})"
    assert a.total == pytest.approx(sql_total(engine.db, where, tuple(values)))
    expected: dict[str, float] = {}
    for value, cost in engine.db.execute(
        f"SELECT {FOCUS_COLUMN[by]}, SUM(EffectiveCost) FROM focus_charges "
        f"WHERE ChargeDay BETWEEN ? AND ? AND {where} GROUP BY 1",
        (*OCTOBER, *values),
    ):
        expected[rank_key(by, value)] = expected.get(rank_key(by, value), 0.0) + cost
    got = sorted(r.cost for r in a.rows)
    assert got == pytest.approx(sorted(expected.values(), reverse=True)[: len(got)][::-1])
    assert len(a.rows) + a.more_rows == len(expected)


@pytest.mark.parametrize(
    "question",
    [
        "account 111 last month",
        "account ml-prod last month",
        "service ec2 between 2026-10-01 and 2026-10-15",
        "top 5 projects last month",
        "top 5 services for provider aws last month",
        "compare team nlp last month vs september",
        "provider gcp by region last month",
        "nlp last month",
        "untagged spend last month",
        "what did project bert-trainig cost last month",
        "spot vs on-demand for team vision last month",
    ],
)
def test_every_suggestion_is_a_question_the_bot_answers(engine, question):
    a = ask(engine, question)
    assert a.suggestions, question
    for suggestion in a.suggestions:
        follow = ask(engine, suggestion)
        assert follow.kind not in ("unknown_name", "not_understood", "error"), (
            question,
            suggestion,
        )
        assert follow.question != a.question or a.kind == "unknown_name"
