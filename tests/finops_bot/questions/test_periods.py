"""Date rules: weeks start Monday, 'this' runs to today, 'last N days' excludes today."""

from __future__ import annotations

from datetime import date

import pytest

from finops_bot.questions.periods import PeriodError, find_period, previous_period

SUNDAY = date(2026, 11, 22)
MONDAY = date(2026, 11, 23)


def period(text: str, today: date = SUNDAY):
    found = find_period(text, today)
    assert found, text
    p = found[0]
    return p.start.isoformat(), p.end.isoformat()


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("today", SUNDAY, ("2026-11-22", "2026-11-22")),
        ("yesterday", SUNDAY, ("2026-11-21", "2026-11-21")),
        ("this week", SUNDAY, ("2026-11-16", "2026-11-22")),
        ("this week", MONDAY, ("2026-11-23", "2026-11-23")),
        ("last week", SUNDAY, ("2026-11-09", "2026-11-15")),
        ("last week", MONDAY, ("2026-11-16", "2026-11-22")),
        ("this month", SUNDAY, ("2026-11-01", "2026-11-22")),
        ("this month", date(2026, 11, 1), ("2026-11-01", "2026-11-01")),
        ("last month", SUNDAY, ("2026-10-01", "2026-10-31")),
        ("last month", date(2026, 1, 15), ("2025-12-01", "2025-12-31")),
        ("last month", date(2024, 3, 31), ("2024-02-01", "2024-02-29")),
        ("in october", SUNDAY, ("2026-10-01", "2026-10-31")),
        ("december", SUNDAY, ("2025-12-01", "2025-12-31")),  # not started this year yet
        ("november", SUNDAY, ("2026-11-01", "2026-11-30")),
        ("sept 2024", SUNDAY, ("2024-09-01", "2024-09-30")),
        ("in 2026-02", SUNDAY, ("2026-02-01", "2026-02-28")),
        ("last 7 days", SUNDAY, ("2026-11-15", "2026-11-21")),
        ("past 1 day", SUNDAY, ("2026-11-21", "2026-11-21")),
        ("last 2 weeks", SUNDAY, ("2026-11-08", "2026-11-21")),
        ("since monday", SUNDAY, ("2026-11-16", "2026-11-22")),
        ("since monday", MONDAY, ("2026-11-23", "2026-11-23")),
        ("since friday", SUNDAY, ("2026-11-20", "2026-11-22")),
        ("since 2026-11-10", SUNDAY, ("2026-11-10", "2026-11-22")),
        ("since nov 3", SUNDAY, ("2026-11-03", "2026-11-22")),
        ("between 2026-11-01 and 2026-11-15", SUNDAY, ("2026-11-01", "2026-11-15")),
        ("from 3 nov to 9 nov", SUNDAY, ("2026-11-03", "2026-11-09")),
        ("between dec 30 2025 and jan 2 2026", SUNDAY, ("2025-12-30", "2026-01-02")),
        ("on 2026-11-05", SUNDAY, ("2026-11-05", "2026-11-05")),
        ("this year", SUNDAY, ("2026-01-01", "2026-11-22")),
    ],
)
def test_periods(text, today, expected):
    assert period(text, today) == expected


def test_impossible_periods_say_why():
    with pytest.raises(PeriodError, match="ends"):
        find_period("between 2026-11-15 and 2026-11-01", SUNDAY)
    with pytest.raises(PeriodError, match="not a real date"):
        find_period("since 2026-02-30", SUNDAY)
    with pytest.raises(PeriodError, match="after today"):
        find_period("since 2027-01-01", SUNDAY)
    with pytest.raises(PeriodError, match="no month 13"):
        find_period("in 2026-13", SUNDAY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("this week", ("2026-11-09", "2026-11-15")),
        ("last week", ("2026-11-02", "2026-11-08")),
        ("this month", ("2026-10-01", "2026-10-22")),
        ("last month", ("2026-09-01", "2026-09-30")),
        ("yesterday", ("2026-11-20", "2026-11-20")),
        ("last 7 days", ("2026-11-08", "2026-11-14")),
        ("between 2026-11-01 and 2026-11-10", ("2026-10-22", "2026-10-31")),
    ],
)
def test_previous_period_is_like_for_like(text, expected):
    p = find_period(text, SUNDAY)[0]
    before = previous_period(p, SUNDAY)
    assert (before.start.isoformat(), before.end.isoformat()) == expected


def test_this_month_on_the_31st_compares_with_a_shorter_month():
    p = find_period("this month", date(2026, 3, 31))[0]
    before = previous_period(p, date(2026, 3, 31))
    assert (before.start, before.end) == (date(2026, 2, 1), date(2026, 2, 28))


@pytest.mark.parametrize(
    "text",
    [
        "since 0001-01-01",
        "in 0000-01",
        "in 9999-12",
        "between 0001-01-01 and 9999-12-31",
        "on 9999-12-31",
        "january 0001",
    ],
)
def test_dates_outside_2000_to_2099_are_refused_in_one_line(text):
    with pytest.raises(PeriodError, match="2000–2099"):
        find_period(text, date(2026, 11, 22))


def test_an_answer_for_a_day_out_of_range_is_one_line(db):
    from datetime import UTC, datetime

    from finops_bot.questions import Engine

    a = Engine(db).ask("total spend this week", date(1, 1, 1), datetime(2026, 11, 22, tzinfo=UTC))
    assert a.kind == "error" and "outside 2000–2099" in a.message
