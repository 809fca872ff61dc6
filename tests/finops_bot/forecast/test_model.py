"""The forecast model: level × days on a flat series, the weekly profile against the
month-to-date pace, one-offs added once, too little history, an open level shift, a
billing lag, the interval and the chart's path, quarters, credits, and a fuzz."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_bot.forecast.model import MIN_HISTORY_DAYS, Forecast, TooLittle, forecast, mtd_pace

JAN1 = date(2026, 1, 1)
FEB1, FEB28 = date(2026, 2, 1), date(2026, 2, 28)


def noisy(level: float, days: int, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    return level * (1 + noise * np.random.default_rng(seed).standard_normal(days))


def through(day: date, values: np.ndarray, start: date = JAN1) -> np.ndarray:
    """The part of a series that ends on ``day``."""
    return values[: (day - start).days + 1]


def check(f) -> Forecast:
    assert isinstance(f, Forecast), f
    assert all(math.isfinite(x) for x in (f.actual, f.total, f.low, f.high))
    assert f.low <= f.total <= f.high
    if f.path:
        assert f.path[-1] == (f.period_end, f.total, f.low, f.high)
    return f


def test_a_flat_series_forecasts_its_level_times_the_days():
    usage = through(date(2026, 2, 10), noisy(100, 80))
    f = check(forecast(usage, JAN1, FEB1, FEB28, date(2026, 2, 11)))
    assert f.actual == usage[31:].sum()
    assert abs(f.total - 2800) < 0.03 * 2800
    assert f.low < 2800 < f.high
    assert "weekly profile" in f.method


def test_a_weekly_profile_beats_the_month_to_date_pace():
    # weekdays 100, weekends 30; March 2026 starts on a Sunday: on Saturday the 7th, 1 of
    # the 6 days elapsed is a weekend day, 8 of the 25 left are
    start = date(2025, 12, 1)
    days = np.array([start + timedelta(days=i) for i in range(121)])
    truth_daily = np.array([30.0 if d.weekday() >= 5 else 100.0 for d in days])
    usage = truth_daily * (1 + 0.03 * np.random.default_rng(1).standard_normal(len(days)))
    mar1, mar31, as_of = date(2026, 3, 1), date(2026, 3, 31), date(2026, 3, 7)
    known = through(as_of - timedelta(days=1), usage, start)
    m0 = (mar1 - start).days
    truth = known[m0:].sum() + truth_daily[len(known) : (mar31 - start).days + 1].sum()
    f = check(forecast(known, start, mar1, mar31, as_of))
    pace = mtd_pace(known[m0:], 0.0, 31)
    assert abs(f.total - truth) < 0.02 * truth
    assert abs(f.total - truth) < abs(pace - truth) / 3
    assert f.low <= truth <= f.high


def test_one_offs_are_added_once_and_never_extrapolated():
    usage = through(date(2026, 2, 10), noisy(100, 80))
    plain = check(forecast(usage, JAN1, FEB1, FEB28, date(2026, 2, 11)))
    bought = check(forecast(usage, JAN1, FEB1, FEB28, date(2026, 2, 11), one_offs=500.0))
    assert bought.total - plain.total == 500.0
    assert bought.actual - plain.actual == 500.0
    assert bought.one_offs == 500.0
    assert (bought.high - bought.low) == plain.high - plain.low


def test_a_purchase_only_series_forecasts_the_purchase_and_a_tight_interval():
    f = check(forecast(np.zeros(41), JAN1, FEB1, FEB28, date(2026, 2, 11), one_offs=720.0))
    assert f.total == f.low == f.high == f.actual == 720.0
    assert all(p[1:] == (720.0, 720.0, 720.0) for p in f.path)


def test_too_little_history_is_not_forecast():
    f = forecast(np.full(13, 50.0), date(2026, 1, 29), FEB1, FEB28, date(2026, 2, 11))
    assert isinstance(f, TooLittle)
    assert f.days == 13
    assert "13 days" in f.reason and str(MIN_HISTORY_DAYS) in f.reason and "Feb 11" in f.reason
    # an all-zero series with enough days is forecast: zero is a real level
    z = check(forecast(np.zeros(14), date(2026, 1, 28), FEB1, FEB28, date(2026, 2, 11)))
    assert z.total == z.low == z.high == 0.0


def test_an_empty_series_is_not_forecast():
    f = forecast(np.array([]), JAN1, FEB1, FEB28, date(2026, 2, 11))
    assert isinstance(f, TooLittle) and f.days == 0 and "no usage" in f.reason
    # an array that starts after the day evaluated knows nothing either
    late = forecast(np.ones(30), date(2026, 2, 20), FEB1, FEB28, date(2026, 2, 11))
    assert isinstance(late, TooLittle) and late.days == 0


def test_an_open_level_shift_makes_the_rest_continue_at_its_new_level():
    usage = noisy(100, 41, noise=0.03)
    usage[38:] *= 2  # from Feb 8: three days at the new level
    as_of, shift = date(2026, 2, 11), date(2026, 2, 8)
    rest = (FEB28 - date(2026, 2, 10)).days
    told = check(forecast(usage, JAN1, FEB1, FEB28, as_of, shift_from=shift))
    assert told.shift_from == shift and told.level_since == shift
    assert abs((told.total - told.actual) / rest - 200) < 15
    assert "level shift on Feb 8" in told.method
    untold = check(forecast(usage, JAN1, FEB1, FEB28, as_of))
    assert abs((untold.total - untold.actual) / rest - 100) < 10  # three days: maybe a spike
    # a shift after the data's end has no day at its new level yet: ignored
    ahead = check(forecast(usage, JAN1, FEB1, FEB28, as_of, shift_from=date(2026, 2, 11)))
    assert ahead.total == untold.total


def test_a_lasting_change_is_found_without_being_told():
    usage = noisy(100, 41, noise=0.03)
    usage[31:] *= 0.5  # from Feb 1: ten days at half the level
    f = check(forecast(usage, JAN1, FEB1, FEB28, date(2026, 2, 11)))
    assert abs((f.total - f.actual) / 18 - 50) < 4
    assert f.level_since == FEB1 and "found" in f.method


def test_a_billing_lag_forecasts_the_days_not_yet_billed():
    usage = through(date(2026, 2, 7), noisy(100, 80))  # 3 days before as_of
    f = check(forecast(usage, JAN1, FEB1, FEB28, date(2026, 2, 11)))
    assert f.path[0][0] == date(2026, 2, 8)
    assert len(f.path) == 21
    assert f.actual == usage[31:].sum()
    assert f.last_data_day == date(2026, 2, 7)
    assert abs(f.total - 2800) < 0.03 * 2800
    # days on or after as_of in the array are ignored
    longer = noisy(100, 80)
    same = check(forecast(longer, JAN1, FEB1, FEB28, date(2026, 2, 8)))
    assert same.total == f.total


def test_the_path_is_cumulative_and_ends_on_the_interval():
    usage = through(date(2026, 2, 10), noisy(100, 80, noise=0.1))
    f = check(forecast(usage, JAN1, FEB1, FEB28, date(2026, 2, 11)))
    days = [p[0] for p in f.path]
    assert days == [date(2026, 2, 11) + timedelta(days=i) for i in range(18)]
    for column in (1, 2, 3):
        values = [p[column] for p in f.path]
        assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    assert f.path[0][2] >= f.actual
    assert all(lo <= mid <= hi for _, mid, lo, hi in f.path)
    assert f.path[0][1] > f.actual
    widths = [hi - lo for _, _, lo, hi in f.path]
    assert widths[-1] > widths[0]


def test_a_period_already_known_is_its_actual():
    usage = noisy(100, 60)
    f = check(forecast(usage, JAN1, FEB1, FEB28, date(2026, 3, 2), one_offs=10.0))
    assert f.total == f.low == f.high == f.actual == usage[31:59].sum() + 10.0
    assert f.path == []


def test_a_quarter_is_forecast():
    usage = through(date(2026, 2, 14), noisy(100, 80))
    q1_end = date(2026, 3, 31)
    f = check(forecast(usage, JAN1, JAN1, q1_end, date(2026, 2, 15)))
    assert abs(f.total - 9000) < 0.03 * 9000
    assert len(f.path) == (q1_end - date(2026, 2, 15)).days + 1
    assert f.low < 9000 < f.high


def test_credits_do_not_produce_nan():
    usage = noisy(100, 41)
    usage[::5] = -80.0  # credits on some days
    check(forecast(usage, JAN1, FEB1, FEB28, date(2026, 2, 11)))
    credits = -np.abs(noisy(20, 41))  # a subject that is all credits
    f = check(forecast(credits, JAN1, FEB1, FEB28, date(2026, 2, 11)))
    assert f.total < f.actual < 0
    mixed = np.where(np.arange(41) % 2, 1.0, -1.0)  # a week mean of about zero
    check(forecast(mixed, JAN1, FEB1, FEB28, date(2026, 2, 11)))
    weird = np.array([np.nan, np.inf, *noisy(100, 39)])
    check(forecast(weird, JAN1, FEB1, FEB28, date(2026, 2, 11)))


def test_weekends_off_are_forecast_as_zero():
    usage = noisy(100, 41)
    weekend = np.array([(JAN1 + timedelta(days=i)).weekday() >= 5 for i in range(41)])
    usage[weekend] = 0.0
    f = check(forecast(usage, JAN1, FEB1, FEB28, date(2026, 2, 11)))
    rest = [date(2026, 2, 11) + timedelta(days=i) for i in range(18)]
    workdays = sum(d.weekday() < 5 for d in rest)
    assert abs((f.total - f.actual) - 100 * workdays) < 0.05 * 100 * workdays
    steps = [b[1] - a[1] for a, b in zip(f.path, f.path[1:], strict=False)]
    assert all(s < 1e-9 for s, d in zip(steps, rest[1:], strict=True) if d.weekday() >= 5)


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.just(0.0),
            st.floats(min_value=-1e7, max_value=1e7, allow_nan=False, allow_infinity=False),
        ),
        max_size=160,
    ),
    start_offset=st.integers(min_value=-40, max_value=40),
    lag=st.integers(min_value=0, max_value=5),
    shift=st.one_of(st.none(), st.integers(min_value=-60, max_value=200)),
    one_offs=st.floats(min_value=-1e5, max_value=1e5, allow_nan=False),
    quarter=st.booleans(),
)
def test_random_series_never_raise_nor_give_nan(
    values, start_offset, lag, shift, one_offs, quarter
):
    usage = np.array(values, dtype=float)
    first_day = date(2025, 12, 1)
    period_start = date(2026, 1, 1) + timedelta(days=start_offset)
    period_end = period_start + timedelta(days=89 if quarter else 27)
    as_of = first_day + timedelta(days=len(usage) + lag)
    shift_from = first_day + timedelta(days=shift) if shift is not None else None
    f = forecast(usage, first_day, period_start, period_end, as_of,
                 one_offs=one_offs, shift_from=shift_from)  # fmt: skip
    if isinstance(f, TooLittle):
        assert f.days < MIN_HISTORY_DAYS and f.reason
        return
    check(f)
    assert all(all(math.isfinite(x) for x in p[1:]) for p in f.path)
    assert all(lo <= mid <= hi for _, mid, lo, hi in f.path)
