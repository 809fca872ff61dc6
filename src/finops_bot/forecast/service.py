"""Forecasts of a subject's period total from the cache, through the store's read path.

Evaluated "on D", a forecast uses the charge days before D that every provider of the
subject has billed (a provider that lags would otherwise look like a drop). Usage
(ChargeCategory Usage) is modelled; purchases, taxes, credits and adjustments already in
the period are added as they are, never extrapolated; an open level-shift anomaly of the
subject makes the rest of the period continue at its new level (spikes and drifts add
nothing). One forecast per currency: currencies are never added."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlite_utils import Database

from finops_bot.days import day_number
from finops_bot.forecast.model import Forecast, TooLittle, forecast
from finops_bot.store import anomalies as stored
from finops_bot.store import reads
from finops_bot.store.reads import Where

HISTORY_DAYS = 120  # what a forecast reads before its period's evaluation day
USAGE = ("Usage",)
ONE_OFFS = ("Purchase", "Tax", "Credit", "Adjustment")
RUN_RATE_DAYS = 7


@dataclass(frozen=True)
class SubjectForecast:
    """One currency's forecast of one subject's period."""

    currency: str
    start: date
    end: date
    as_of: date
    through: date | None  # the last billed day it used
    result: Forecast | TooLittle
    pace: float | None  # the baseline: month-to-date ÷ elapsed days × period length
    daily: tuple[float, ...] = ()  # each billed day of the period so far (usage + one-offs
    # on their day are not split: usage only), from the period's first day

    @property
    def ok(self) -> bool:
        return isinstance(self.result, Forecast)


def billed_through(db: Database, where: Where, start: date, today: date) -> date | None:
    """The last day every provider of the subject has billed, before ``today``."""
    providers = reads.providers_of(db, where, start - timedelta(days=HISTORY_DAYS), today)
    days = [
        date.fromisoformat(f.data_through)
        for f in reads.freshness(db)
        if f.provider in providers and f.data_through
    ]
    if not days:
        return None
    return min(min(days), today - timedelta(days=1))


def open_shifts(db: Database, measure: str) -> dict[tuple[str, str, str], date]:
    """(dim, key, currency) → the first day of its open level shift."""
    out = {}
    for a in stored.stored(db, statuses=["open"], measure=measure):
        if a.kind == "level_shift":
            out[(a.dim, a.key, a.currency)] = date.fromisoformat(a.start)
    return out


def forecast_where(
    db: Database,
    where: Where,
    start: date,
    end: date,
    today: date,
    measure: str,
    subject: tuple[str, str] | None = None,
) -> list[SubjectForecast]:
    """The period [start, end]'s forecast per currency, evaluated on ``today``.
    ``subject``: its (dim, key), to find its open level shift."""
    through = billed_through(db, where, start, today)
    if through is None:
        return []
    first = start - timedelta(days=HISTORY_DAYS)
    usage: dict[str, dict[int, float]] = defaultdict(dict)
    for day, currency, total in reads.series(db, where, first, through, measure, USAGE):
        usage[currency][day_number(date.fromisoformat(day))] = total
    one_offs = (
        reads.totals(db, where, start, through, measure, ONE_OFFS) if through >= start else {}
    )
    shifts = open_shifts(db, measure) if subject else {}
    out = []
    for currency in sorted(set(usage) | set(one_offs)):
        shift = shifts.get((*subject, currency)) if subject else None
        span = (start, end, today, through)
        out.append(
            _one(usage.get(currency, {}), one_offs.get(currency, 0.0), currency, span, shift)
        )
    return out


def forecast_dimension(
    db: Database, dim: str, start: date, end: date, today: date, measure: str
) -> dict[tuple[str, str], SubjectForecast]:
    """Every value of ``dim`` at once, from two index scans of the cube: (value,
    currency) → its forecast. Billed through the cache's latest day every provider has."""
    through = _through_all(db, today)
    if through is None:
        return {}
    first = start - timedelta(days=HISTORY_DAYS)
    usage: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for key, currency, day, total in reads.all_series(db, dim, first, through, measure, USAGE):
        usage[(key, currency)][day] = total
    one_offs: dict[tuple[str, str], float] = defaultdict(float)
    if through >= start:
        for key, currency, _, total in reads.all_series(db, dim, start, through, measure, ONE_OFFS):
            one_offs[(key, currency)] += total
    shifts = open_shifts(db, measure)
    span, out = (start, end, today, through), {}
    for pair in set(usage) | set(one_offs):
        shift = shifts.get((dim, *pair))
        out[pair] = _one(usage.get(pair, {}), one_offs.get(pair, 0.0), pair[1], span, shift)
    return out


def _through_all(db: Database, today: date) -> date | None:
    days = [date.fromisoformat(f.data_through) for f in reads.freshness(db) if f.data_through]
    return min(min(days), today - timedelta(days=1)) if days else None


def _one(values, one_offs, currency, span, shift) -> SubjectForecast:
    """``span``: (period start, end, today, billed through). Days with no charge between
    the subject's first charge and ``through`` are zeros."""
    start, end, today, through = span
    if not values:
        array, first_day = np.zeros(0), start
    else:
        lo, hi = min(values), day_number(through)
        array = np.zeros(max(hi - lo + 1, 0))
        for day, total in values.items():
            if lo <= day <= hi:
                array[day - lo] = total
        first_day = start + timedelta(days=lo - day_number(start))
    result = forecast(array, first_day, start, end, today, one_offs=one_offs, shift_from=shift)
    in_period = array[max(day_number(start) - day_number(first_day), 0) :] if len(array) else array
    elapsed = (through - start).days + 1 if through >= start else 0
    length = (end - start).days + 1
    pace = float(in_period.sum()) / elapsed * length + one_offs if elapsed > 0 else None
    lead = day_number(first_day) - day_number(start)  # days before the first charge
    daily = (0.0,) * max(lead, 0) + tuple(float(v) for v in in_period)
    return SubjectForecast(currency, start, end, today, through, result, pace, daily[:elapsed])


def run_rate(
    db: Database, where: Where, today: date, measure: str, days_in_period: int
) -> tuple[date, date, dict[str, float]] | None:
    """The 7-day run rate: average daily usage over the last 7 fully billed days × the days
    in the period; → (first, last day averaged, currency → rate)."""
    through = billed_through(db, where, today.replace(day=1), today)
    if through is None:
        return None
    first = through - timedelta(days=RUN_RATE_DAYS - 1)
    sums = reads.totals(db, where, first, through, measure, USAGE)
    return first, through, {c: v / RUN_RATE_DAYS * days_in_period for c, v in sums.items()}
