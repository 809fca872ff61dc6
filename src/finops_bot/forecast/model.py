"""The forecast model (pure numpy, no store): a period-end total with an 80% interval
from one daily usage series. CONTRACT ONLY — implemented by the forecast-model work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

INTERVAL = 0.8
MIN_HISTORY_DAYS = 14  # fewer usage days before the evaluation day: no forecast


@dataclass(frozen=True)
class Forecast:
    """A period-end forecast. Money is in the series' one currency (never mixed)."""

    period_start: date
    period_end: date
    as_of: date  # evaluated "on D": uses days before D only
    actual: float  # usage + one-offs already in the period, days before as_of
    total: float  # expected period total (actual + the expected rest)
    low: float  # the 80% interval of the period total
    high: float
    method: str  # e.g. "weekly profile × robust trend (56 days)"
    interval: float = INTERVAL
    one_offs: float = 0.0  # non-usage charges already in the period (not extrapolated)
    shift_from: date | None = None  # an open level shift the rest continues at
    # (day, cumulative expected, cumulative low, cumulative high) for each day from as_of
    # to period_end: what the chart draws
    path: list[tuple[date, float, float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class TooLittle:
    """Not forecast: why (e.g. "only 9 days of usage before Dec 10; 14 are needed")."""

    reason: str
    days: int


def forecast(
    usage: np.ndarray,
    first_day: date,
    period_start: date,
    period_end: date,
    as_of: date,
    *,
    one_offs: float = 0.0,
    shift_from: date | None = None,
) -> Forecast | TooLittle:
    """``usage[i]`` is the usage cost of ``first_day + i`` (zeros are real zero days; the
    array ends on the day before ``as_of`` or earlier, when billing lags). ``one_offs``:
    the period's non-usage charges so far, added as they are. ``shift_from``: an open
    level shift's first day; the rest of the period continues at its new level."""
    raise NotImplementedError


def mtd_pace(usage_in_period: np.ndarray, one_offs: float, days_in_period: int) -> float:
    """The baseline: month-to-date ÷ elapsed days × period length (one-offs not scaled)."""
    elapsed = len(usage_in_period)
    if elapsed == 0:
        return one_offs
    return float(usage_in_period.sum()) / elapsed * days_in_period + one_offs
