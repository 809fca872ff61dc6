"""The budget ladder with a controlled clock: a crossing is recorded once (restart, two
processes), a restated day un-crosses it (noted, never re-posted), a new month starts
over; currencies are never mixed; a budget's status against an independent sum."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from finops_bot.errors import ConfigError
from finops_bot.forecast import budgets
from finops_bot.forecast.budget_rules import parse_budgets, period_bounds
from finops_bot.ingest.importer import import_file
from finops_bot.ingest.tags import TagRules
from finops_bot.store import budget_ledger, connect
from tests.conftest import charge, write_focus

TAGS = TagRules({"project": ("project",), "team": ("team",), "owner": ("owner",)})
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def _days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _bill(tmp_path: Path, last: date, cost=100.0, override=None, extra=()) -> Path:
    """p1 (team t1) at ``cost`` a day from Aug 1 to ``last``; ``override``: day → cost."""
    override = override or {}
    rows = [
        charge(d, override.get(d, cost), project="p1", team="t1")
        for d in _days(date(2026, 8, 1), last)
    ]
    return write_focus(tmp_path / "bill.csv", [*rows, *extra])


def _load(db, tmp_path, last, **kw) -> None:
    import_file(db, _bill(tmp_path, last, **kw), rules=TAGS, now=NOW)


RULES = parse_budgets(
    [
        {
            "name": "t1",
            "team": "t1",
            "amount": 3000,
            "thresholds": [50, 80, 100],
            "forecast_threshold": 0,
        }
    ]
)


def _check(db, today: date, rules=RULES, now=NOW):
    return budgets.check(db, rules.budgets, today, now, "EffectiveCost")


def test_a_crossing_is_recorded_once_and_a_higher_one_later(tmp_path):
    db = connect(tmp_path / "c.db")
    _load(db, tmp_path, date(2026, 11, 14))  # 14 days × $100 = $1,400: 46.7%
    (first,) = _check(db, date(2026, 11, 15))
    assert first.status.spent == pytest.approx(1400) and first.new == []
    _load(db, tmp_path, date(2026, 11, 16))  # $1,600: 53.3%
    (crossed,) = _check(db, date(2026, 11, 17))
    assert crossed.new == ["50"] and crossed.status.crossed == [50]
    assert _check(db, date(2026, 11, 17))[0].new == []  # the same reading: nothing new
    db.close()
    db = connect(tmp_path / "c.db")  # a restart
    assert _check(db, date(2026, 11, 17))[0].new == []
    _load(db, tmp_path, date(2026, 11, 24))  # $2,400: 80%
    assert _check(db, date(2026, 11, 25))[0].new == ["80"]
    assert [c.threshold for c in budget_ledger.crossings(db, "t1")] == ["50", "80"]
    db.close()


def test_a_restated_day_uncrosses_once_and_a_re_crossing_posts_nothing(tmp_path):
    db = connect(tmp_path / "c.db")
    _load(db, tmp_path, date(2026, 11, 16))
    assert _check(db, date(2026, 11, 17))[0].new == ["50"]
    restated = {"2026-11-15": 0.0, "2026-11-16": 0.0}  # the provider restates two days
    _load(db, tmp_path, date(2026, 11, 16), override=restated)
    (after,) = _check(db, date(2026, 11, 17), now=NOW + timedelta(hours=1))
    assert after.status.spent == pytest.approx(1400) and after.new == []
    (c,) = budget_ledger.unnoted(db)
    assert (c.threshold, c.uncrossed_spent) == ("50", pytest.approx(1400))
    budget_ledger.noted(db, [c], NOW + timedelta(hours=2))
    assert budget_ledger.unnoted(db) == []
    _load(db, tmp_path, date(2026, 11, 18))  # crossed again: the same row, no new post
    assert _check(db, date(2026, 11, 19))[0].new == []
    assert len(budget_ledger.crossings(db, "t1")) == 1
    db.close()


def test_a_new_month_starts_the_ladder_over(tmp_path):
    db = connect(tmp_path / "c.db")
    _load(db, tmp_path, date(2026, 11, 30))  # $3,000: 100% of November
    assert _check(db, date(2026, 12, 1))[0].new == []  # Dec 1: December has no spend yet
    (nov,) = _check(db, date(2026, 11, 30) + timedelta(days=0))
    assert set(nov.new) == {"50", "80"}  # as of Nov 30 (billed through Nov 29): 96.7%
    _load(db, tmp_path, date(2026, 12, 16))
    (dec,) = _check(db, date(2026, 12, 17))
    assert dec.status.start == date(2026, 12, 1) and dec.new == ["50"]
    periods = {c.period_start for c in budget_ledger.crossings(db, "t1")}
    assert periods == {"2026-11-01", "2026-12-01"}
    db.close()


def _check_in_process(path: str, out) -> None:
    db = connect(path)
    out.put(_check(db, date(2026, 11, 17))[0].new)
    db.close()


def test_two_processes_checking_at_once_record_each_crossing_once(tmp_path):
    db = connect(tmp_path / "c.db")
    _load(db, tmp_path, date(2026, 11, 16))
    db.close()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    runs = [
        ctx.Process(target=_check_in_process, args=(str(tmp_path / "c.db"), out)) for _ in range(3)
    ]
    for p in runs:
        p.start()
    for p in runs:
        p.join(60)
        assert p.exitcode == 0
    news = sorted((out.get(timeout=5) for _ in runs), key=len)
    assert news == [[], [], ["50"]]


def test_currencies_are_never_mixed(tmp_path):
    db = connect(tmp_path / "c.db")
    eur = [
        charge(d, 1000.0, project="p1", team="t1", currency="EUR")
        for d in _days(date(2026, 11, 1), date(2026, 11, 16))
    ]
    _load(db, tmp_path, date(2026, 11, 16), extra=eur)
    rules = parse_budgets(
        [
            {"name": "usd", "team": "t1", "amount": 3000},
            {"name": "eur", "team": "t1", "amount": 30000, "currency": "EUR"},
            {"name": "gbp", "team": "t1", "amount": 3000, "currency": "GBP"},
        ]
    )
    usd, eur_, gbp = _check(db, date(2026, 11, 17), rules)
    assert usd.status.spent == pytest.approx(1600)  # the EUR rows are not in it
    assert eur_.status.spent == pytest.approx(16000)
    assert usd.status.forecast.total < 5000 < eur_.status.forecast.total
    assert gbp.status.spent is None and gbp.new == []
    assert "no GBP spend" in gbp.status.problem and "EUR, USD" in gbp.status.problem
    assert gbp.status.to_dict()["crossed"] == []
    db.close()


def test_status_against_an_independent_sum_and_the_forecast_threshold(tmp_path):
    db = connect(tmp_path / "c.db")
    purchase = charge("2026-11-01", 500.0, project="p1", team="t1", category="Purchase")
    _load(db, tmp_path, date(2026, 11, 16), extra=[purchase])
    rules = parse_budgets([{"name": "t1", "team": "t1", "amount": 3000, "forecast_threshold": 100}])
    (checked,) = _check(db, date(2026, 11, 17), rules)
    s = checked.status
    (independent,) = db.execute(
        "SELECT SUM(EffectiveCost) FROM focus_charges WHERE ChargeDay BETWEEN "
        "'2026-11-01' AND '2026-11-16'"
    ).fetchone()
    assert s.spent == pytest.approx(independent) == pytest.approx(2100)
    # $100 a day for 30 days plus the purchase once (not extrapolated): about $3,500
    assert s.forecast.total == pytest.approx(3500, rel=0.05)
    assert s.forecast.one_offs == pytest.approx(500)
    assert s.forecast_over and "forecast" in checked.new
    assert s.hits_on is not None and date(2026, 11, 17) <= s.hits_on <= date(2026, 11, 30)
    d = s.to_dict()
    assert d["period"] == {"start": "2026-11-01", "end": "2026-11-30", "label": "November 2026"}
    assert d["forecast"]["interval"] == 0.8 and d["data_through"] == "2026-11-16"
    assert d["percent"] == pytest.approx(70.0)
    db.close()


def test_an_untagged_budget_and_too_little_history(tmp_path):
    db = connect(tmp_path / "c.db")
    rows = [charge(d, 10.0, project=None) for d in _days(date(2026, 11, 10), date(2026, 11, 16))]
    import_file(db, write_focus(tmp_path / "u.csv", rows), rules=TAGS, now=NOW)
    rules = parse_budgets([{"name": "untagged", "untagged": True, "amount": 100}])
    (checked,) = _check(db, date(2026, 11, 17), rules)
    s = checked.status
    assert s.spent == pytest.approx(70) and s.crossed == [50]
    assert s.forecast is not None and not hasattr(s.forecast, "total")  # 7 days: too little
    assert "7" in s.forecast.reason and s.to_dict()["forecast"]["total"] is None
    db.close()


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"name": "a", "amount": 1, "colour": "red"}, "colour: unknown key"),
        ({"name": "a", "team": "t", "project": "p", "amount": 1}, "at most one scope key"),
        ({"name": "a", "amount": 1, "amounts": {"2026-11": 2}}, "one of them"),
        ({"name": "a"}, "give amount"),
        ({"name": "a", "amount": -5}, "more than 0"),
        ({"name": "a", "amount": 1, "currency": "dollars"}, "3-letter code"),
        ({"name": "a", "amount": 1, "period": "week"}, 'period must be "month" or "quarter"'),
        ({"name": "a", "amounts": {"2026-11": 1}, "period": "quarter"}, "first month of a quarter"),
        ({"name": "a", "amounts": {"Nov": 1}}, "must be a month"),
        ({"name": "a", "amount": 1, "thresholds": [50, 50]}, "different percentages"),
        ({"name": "a", "amount": 1, "channel": "#nlp"}, "channel id"),
        ({"name": "a", "amount": 1, "measure": "Dollars"}, "not a cost measure"),
        ({"name": "A B", "amount": 1}, "short lower-case word"),
    ],
)
def test_a_bad_budget_is_named_in_one_line(table, named):
    from finops_bot.config import normalise_measure

    with pytest.raises(ConfigError) as err:
        parse_budgets([table], normalise_measure)
    assert named in str(err.value) and "\n" not in str(err.value)


def test_budget_rules_read_singular_and_plural_scope_keys_and_fiscal_quarters():
    rules = parse_budgets(
        [
            {"name": "a", "teams": ["nlp"], "amount": 1},
            {"name": "b", "owner": "Alice@Acme.ai", "amounts": {"2026-11": 5, "2026-12": 6}},
            {"name": "c", "amounts": {"2026-11": 9}, "period": "quarter"},
        ],
        fiscal_start=2,
    )
    a, b, c = rules.budgets
    assert (a.dim, a.value, a.scope) == ("team", "nlp", "team nlp")
    assert b.value == "alice@acme.ai" and b.amount_for(date(2026, 12, 1)) == 6
    assert b.amount_for(date(2027, 1, 1)) is None
    assert period_bounds("quarter", date(2026, 12, 15), 2) == (date(2026, 11, 1), date(2027, 1, 31))
    assert period_bounds("quarter", date(2026, 12, 15)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert c.amount_for(date(2026, 11, 1)) == 9
    with pytest.raises(ConfigError, match="used twice"):
        parse_budgets([{"name": "a", "amount": 1}, {"name": "a", "amount": 2}])


def test_a_budget_scope_is_matched_as_questions_match_names(tmp_path):
    """provider = "aws" is the AWS spend; team = "T1" is team t1 (spellings fold)."""
    db = connect(tmp_path / "c.db")
    _load(db, tmp_path, date(2026, 11, 16))
    rules = parse_budgets(
        [
            {"name": "aws", "provider": "aws", "amount": 3000},
            {"name": "amazon", "provider": "Amazon Web Services", "amount": 3000},
            {"name": "team", "team": "T1", "amount": 3000},
        ]
    )
    for checked in _check(db, date(2026, 11, 17), rules):
        assert checked.status.problem is None, checked.status.budget.name
        assert checked.status.spent == pytest.approx(1600)
    db.close()


@pytest.mark.parametrize("amount", [1e300, 0.01])
def test_huge_and_tiny_amounts_give_finite_figures(tmp_path, amount):
    db = connect(tmp_path / "c.db")
    _load(db, tmp_path, date(2026, 11, 16))
    rules = parse_budgets([{"name": "x", "team": "t1", "amount": amount}])
    (checked,) = _check(db, date(2026, 11, 17), rules)
    d = checked.status.to_dict()
    assert d["percent"] is not None and d["percent"] == d["percent"]  # not NaN
    assert (d["crossed"] == []) == (amount > 1e6)
    db.close()
