"""The words a GPU team types: superlatives, movers, series, quarters and fiscal years,
typos in period words, filler, two subjects side by side, lists of names, nicknames and
people — each answer checked against an independent SQL sum over the facts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from finops_bot.errors import ConfigError
from finops_bot.ingest.importer import import_file
from finops_bot.questions import Engine
from finops_bot.questions.parse import parse
from finops_bot.questions.rules import Asker, QuestionRules, parse_question_rules
from tests.conftest import NOW, TODAY, charge, write_focus

PROJECTS = {"rlhf-ppo": ("alice.smith@acme.ai", "nlp"), "bert-training": ("bob@acme.ai", "nlp")}
PROJECTS["vision-pretrain"] = ("carol@acme.ai", "vision")


@pytest.fixture
def engine(db, rules, tmp_path):
    rows = []
    day = date(2026, 6, 1)
    while day <= date(2026, 11, 21):
        i = (day - date(2026, 6, 1)).days
        for j, (project, (owner, team)) in enumerate(PROJECTS.items()):
            cost = 100 + 10 * j + (i % 7) + (40 if project == "rlhf-ppo" and i >= 168 else 0)
            provider, service = [
                ("AWS", "AmazonEC2"),
                ("Google Cloud", "Compute Engine"),
                ("Microsoft", "Virtual Machines"),
            ][j]
            rows.append(
                charge(
                    day.isoformat(),
                    cost,
                    project=project,
                    owner=owner,
                    team=team,
                    provider=provider,
                    service=service,
                    resource=f"r-{j}",
                )
            )
        day += timedelta(days=1)
    import_file(db, write_focus(tmp_path / "org.csv", rows), rules=rules, now=NOW)
    return Engine(db)


def sql(db, where: str, first: str, last: str) -> float:
    return db.execute(
        "SELECT COALESCE(SUM(EffectiveCost), 0) FROM focus_charges "
        f"WHERE ChargeDay BETWEEN ? AND ? AND ({where})",
        (first, last),
    ).fetchone()[0]


def ask(engine, question, **kw):
    return engine.ask(question, TODAY, NOW, **kw)


def test_the_first_questions_people_type_are_understood(engine):
    for question in [
        "which team spends the most",
        "biggest spender",
        "daily spend last 7 days",
        "what did we spend in q3",
        "how much did alice spend",
        "hey, how much did rlhf-ppo cost over the last 7 days",
        "what grew the most",
        "cost trend for bert-training",
        "by week this quarter",
        "compare this month to last month",
        "aws vs gcp last month",
        "list projects",
        "what teams do we have",
        "last week's total",
        "spend lst mnth",
        "break down rlhf-ppo by service last month",
    ]:
        a = ask(engine, question)
        assert a.kind not in ("not_understood", "unknown_name", "error"), (question, a.message)


def test_superlatives_rank_and_name_the_top_one(engine):
    a = ask(engine, "which team spends the most last month")
    assert (a.kind, a.title) == ("top", "Top team")
    assert a.rows[0].key == "nlp"
    nlp = sql(engine.db, "project IN ('rlhf-ppo', 'bert-training')", "2026-10-01", "2026-10-31")
    assert a.rows[0].cost == pytest.approx(nlp)


def test_series_by_day_and_week_add_up_to_the_period(engine):
    a = ask(engine, "daily spend for rlhf-ppo last 7 days")
    assert (a.kind, a.granularity) == ("series", "day")
    assert [r.key for r in a.rows] == [f"2026-11-{d}" for d in range(15, 22)]
    expected = sql(engine.db, "project = 'rlhf-ppo'", "2026-11-15", "2026-11-21")
    assert sum(r.cost for r in a.rows) == pytest.approx(expected)
    assert a.total == pytest.approx(expected)
    assert a.to_dict()["granularity"] == "day"
    weekly = ask(engine, "spend by week this quarter")
    assert weekly.granularity == "week" and weekly.rows[0].key == "2026-09-28"  # a Monday
    assert weekly.total == pytest.approx(sql(engine.db, "1", "2026-10-01", "2026-11-21"))
    monthly = ask(engine, "cost trend for bert-training ytd")
    assert monthly.granularity == "month" and monthly.rows[0].key == "2026-01-01"


def test_movers_rank_the_increase_like_for_like(engine):
    a = ask(engine, "what grew the most this week")
    assert a.kind == "movers" and a.rows[0].key == "rlhf-ppo"
    now = sql(engine.db, "project = 'rlhf-ppo'", "2026-11-16", "2026-11-21")
    before = sql(engine.db, "project = 'rlhf-ppo'", "2026-11-09", "2026-11-14")  # same days
    assert (a.rows[0].cost, a.rows[0].previous_cost) == (pytest.approx(now), pytest.approx(before))


def test_quarters_halves_and_fiscal_years():
    q3 = parse("what did we spend in q3", TODAY).period
    assert (q3.start, q3.end, q3.label) == (date(2026, 7, 1), date(2026, 9, 30), "Q3 2026")
    q4 = parse("this quarter", TODAY).period
    assert (q4.start, q4.end) == (date(2026, 10, 1), TODAY)
    last = parse("last quarter", TODAY).period
    assert (last.start, last.end) == (date(2026, 7, 1), date(2026, 9, 30))
    assert parse("q4", TODAY).period.start == date(2026, 10, 1)  # the latest started
    assert parse("q1 2025", TODAY).period.end == date(2025, 3, 31)
    assert parse("h1", TODAY).period.end == date(2026, 6, 30)
    ytd = parse("ytd", TODAY).period
    assert (ytd.start, ytd.end) == (date(2026, 1, 1), TODAY)
    # a fiscal year from February, named by the year it ends in
    fy = parse("this quarter", TODAY, fiscal_start=2).period
    assert (fy.start, fy.end) == (date(2026, 11, 1), TODAY)
    q1 = parse("q1 2027", TODAY, fiscal_start=2).period
    assert (q1.start, q1.end, q1.label) == (date(2026, 2, 1), date(2026, 4, 30), "Q1 FY2027")
    year = parse("ytd", TODAY, fiscal_start=2).period
    assert (year.start, year.label) == (date(2026, 2, 1), "this fiscal year (FY2027)")


@pytest.mark.parametrize(
    ("question", "label"),
    [
        ("last 2 weeks", "last 14 days"),
        ("over the last 7 days", "last 7 days"),
        ("from nov 1 to nov 7", "2026-11-01 to 2026-11-07"),
        ("last week's total", "last week"),
        ("spend lst mnth", "last month"),
        ("cost yesterdy", "yesterday"),
        ("this quater", "this quarter"),
        ("previus week", "last week"),
    ],
)
def test_period_words_with_typos_and_filler(question, label):
    assert parse(question, TODAY).period.label == label


def test_typos_are_fixed_in_period_words_only_and_said():
    q = parse("list teams this mnth", TODAY)
    assert (q.kind, q.top_dim, q.period.label) == ("names", "team", "this month")
    assert q.notes == ("Read “mnth” as “month”.",)
    assert parse("bert-trainin last month", TODAY).name == "bert-trainin"  # names untouched


def test_two_subjects_side_by_side_are_never_added(engine):
    a = ask(engine, "aws vs gcp last month")
    assert a.kind == "compare_subjects" and a.total is None
    costs = {r.key: r.cost for r in a.rows}
    assert costs["Provider AWS"] == pytest.approx(
        sql(engine.db, "ProviderName = 'AWS'", "2026-10-01", "2026-10-31")
    )
    assert costs["Provider Google Cloud"] == pytest.approx(
        sql(engine.db, "ProviderName = 'Google Cloud'", "2026-10-01", "2026-10-31")
    )


def test_names_list_every_value_with_its_cost(engine):
    a = ask(engine, "list projects")
    assert a.kind == "names" and {r.key for r in a.rows} == set(PROJECTS)
    for r in a.rows:
        assert r.cost == pytest.approx(
            sql(engine.db, f"project = '{r.key}'", "2026-11-01", "2026-11-22")
        )
    assert ask(engine, "what teams do we have").title == "Teams (2)"


def test_people_by_first_name_by_mention_and_my_spend(db, engine):
    by_name = ask(engine, "how much did alice spend last month")
    assert by_name.filters == {"owner": "alice.smith@acme.ai"}
    expected = sql(engine.db, "owner = 'alice.smith@acme.ai'", "2026-10-01", "2026-10-31")
    assert by_name.total == pytest.approx(expected)
    rules = QuestionRules(people={"alice.smith@acme.ai": "U0ALICE"})
    slack = Engine(db, rules=rules, who=lambda user: {"U0BOB": "bob@acme.ai"}.get(user))
    assert slack.ask("how much did <@U0ALICE> spend last month", TODAY, NOW).total == (
        pytest.approx(expected)
    )
    bob = slack.ask("<@U0BOB|bob> last month", TODAY, NOW)
    assert bob.filters == {"owner": "bob@acme.ai"}
    unknown = slack.ask("how much did <@U0NOBODY> spend", TODAY, NOW)
    assert unknown.kind == "error" and "[people]" in unknown.message
    mine = slack.ask(
        "my spend last month", TODAY, NOW, asker=Asker("U0ALICE", "alice.smith@acme.ai")
    )
    assert mine.total == pytest.approx(expected)
    cli = ask(engine, "my spend last month")
    assert cli.kind == "error" and "ask in Slack, or say owner NAME" in cli.message


def test_nicknames_from_the_config(db, engine):
    rules = parse_question_rules({}, {"ppo": "project:rlhf-ppo", "vision": "team:vision"}, None)
    nick = Engine(db, rules=rules)
    a = nick.ask("ppo last month", TODAY, NOW)
    assert a.filters == {"project": "rlhf-ppo"}
    assert nick.ask("vision last month", TODAY, NOW).filters == {"team": "vision"}


@pytest.mark.parametrize(
    ("questions", "aliases", "people", "message"),
    [
        ({"fiscal_year_start_month": 13}, None, None, "fiscal_year_start_month: give a month"),
        ({"fiscal_year": 2}, None, None, "[questions] fiscal_year: unknown key"),
        ({}, {"x": "bert-training"}, None, '[aliases] x: give "dimension:name"'),
        ({}, {"x": "planet:mars"}, None, '[aliases] x: give "dimension:name"'),
        ({}, None, {"alice": "U1"}, "[people] alice: give an email and a Slack user id"),
        ({}, None, {"a@b.io": "alice"}, "[people] a@b.io"),
    ],
)
def test_bad_question_settings_are_named_in_one_line(questions, aliases, people, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_question_rules(questions, aliases, people)


@pytest.mark.parametrize("question", ["q1 0001", "fy0000", "h2 0000", "q3 9999", "2026 q9"])
def test_quarters_and_years_out_of_range_are_one_line(engine, question):
    a = ask(engine, question)
    assert a.kind in ("error", "not_understood", "unknown_name"), (question, a.kind)
    assert a.total is None
