"""A deterministic, labelled daily-usage generator for the forecast backtest.

``generate(seed)`` returns ``series`` (60 by default) of daily usage from 2025-01-01
through 2026-02-28 (14 whole months, 424 days), each the product of:

  * a base level, log-uniform $40-$8,000/day;
  * a weekly profile: on a third of the series (every third) a strong one, weekends at
    20-70% of the weekdays (amplitude (max - min) / mean from 0.33 to 0.9) with a
    ±5% weekday wiggle; on the rest a mild one (each weekday ±0-6%);
  * growth, compounded daily: a third flat, a third growing 1-6%/month, a third declining
    1-4%/month (assigned at random, a third each);
  * level shifts on a third of the series (at random): one or two, each on a mid-month
    day (the 8th-22nd) of a month after the first, multiplying the level from that day on
    by 1.2-1.8 or 0.5-0.8 (half each), for good;
  * multiplicative noise: each day × exp(e - s²/2), e ~ Normal(0, s), s uniform 5-10% per
    series (so the noise has mean 1).

Purchases: on a quarter of the series, on the 1st of each month with probability 0.4, an
amount worth 3-20 days of that month's usage. They are one-offs: not in ``usage`` but in
``purchases`` (day index → amount), as a forecast receives them (``one_offs``).

Labelled truth: ``shifts`` (the day indexes where a level shift starts; a detector knows
one from its 4th day, start + 3), the series' weekly amplitude, growth and noise.

    python bench/forecast_gen.py [--seed 0] [--series 60]   # prints a summary per series
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

START = date(2025, 1, 1)
MONTHS = 14


@dataclass
class Series:
    name: str
    usage: np.ndarray  # usage[i]: the usage cost of START + i
    purchases: dict[int, float] = field(default_factory=dict)  # day index → one-off amount
    shifts: list[int] = field(default_factory=list)  # day indexes where a level shift starts
    weekly: float = 0.0  # the profile's amplitude, (max - min) / mean
    growth: float = 0.0  # per month (compounded daily over 30.4 days)
    noise: float = 0.0  # the multiplicative noise's s


@dataclass
class Dataset:
    seed: int
    start: date
    days: int
    series: list[Series]

    def day(self, i: int) -> date:
        return self.start + timedelta(days=i)

    def index(self, d: date) -> int:
        return (d - self.start).days

    def months(self) -> list[tuple[date, date]]:
        """(first day, last day) of each whole month covered."""
        out, d = [], self.start
        while True:
            nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
            if self.index(nxt) > self.days:
                return out
            out.append((d, nxt - timedelta(days=1)))
            d = nxt


def _month(start: date, k: int) -> date:
    """The first day of the k-th month after start's."""
    m = start.month - 1 + k
    return date(start.year + m // 12, m % 12 + 1, 1)


def generate(seed: int, n_series: int = 60, months: int = MONTHS, start: date = START):
    rng = np.random.default_rng(seed)
    days = (_month(start, months) - start).days
    t = np.arange(days)
    weekday = (start.weekday() + t) % 7
    growth_kind = rng.permutation(np.arange(n_series) % 3)  # 0 flat, 1 growing, 2 declining
    shifted = set(rng.permutation(n_series)[: n_series // 3].tolist())
    buyers = set(rng.permutation(n_series)[: n_series // 4].tolist())
    month_starts = [(_month(start, k) - start).days for k in range(months)]
    out = []
    for i in range(n_series):
        base = float(np.exp(rng.uniform(np.log(40), np.log(8000))))
        if i % 3 == 0:
            weekend = rng.uniform(0.2, 0.7)
            week = np.where(np.arange(7) >= 5, weekend, 1.0) * (1 + rng.uniform(-0.05, 0.05, 7))
        else:
            week = 1 + rng.uniform(-1, 1, 7) * rng.uniform(0.0, 0.06)
        week = week / week.mean()
        per_month = [0.0, rng.uniform(0.01, 0.06), -rng.uniform(0.01, 0.04)][growth_kind[i]]
        level = base * (1 + per_month) ** (t / 30.4)
        shifts = []
        if i in shifted:
            months_at = rng.choice(np.arange(1, months), size=rng.integers(1, 3), replace=False)
            for k in sorted(months_at.tolist()):
                s = month_starts[k] + int(rng.integers(7, 22))  # the 8th-22nd
                up = rng.random() < 0.5
                factor = rng.uniform(1.2, 1.8) if up else rng.uniform(0.5, 0.8)
                level = np.where(t >= s, level * factor, level)
                shifts.append(s)
        s_noise = rng.uniform(0.05, 0.10)
        noise = np.exp(rng.normal(0, s_noise, days) - s_noise**2 / 2)
        usage = level * week[weekday] * noise
        purchases = {}
        if i in buyers:
            for k, first in enumerate(month_starts):
                if rng.random() < 0.4:
                    month_end = month_starts[k + 1] if k + 1 < months else days
                    worth = float(usage[first:month_end].mean()) * rng.uniform(3, 20)
                    purchases[first] = round(worth, 2)
        amplitude = float((week.max() - week.min()) / week.mean())
        out.append(Series(f"s{i:02d}", usage, purchases, shifts, amplitude, per_month, s_noise))
    return Dataset(seed, start, days, out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--series", type=int, default=60)
    args = parser.parse_args()
    data = generate(args.seed, args.series)
    for s in data.series:
        row = {"name": s.name, "mean": round(float(s.usage.mean()), 2),
               "weekly": round(s.weekly, 3), "growth": round(s.growth, 4),
               "noise": round(s.noise, 3), "shifts": [str(data.day(d)) for d in s.shifts],
               "purchases": len(s.purchases)}  # fmt: skip
        print(json.dumps(row))


if __name__ == "__main__":
    main()
