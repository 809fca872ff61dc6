"""Hand-built series answers (the engine's contract: one row per bucket, keyed by its start
date, in date order; one line per currency; GPU-hours in Row.quantity)."""

from __future__ import annotations

from datetime import date, timedelta

from finops_bot.questions.answer import Answer, Row
from finops_bot.questions.periods import Period

VALUES = [120.0, 95.5, 130.25, 180.0, 60.0, 75.0, 140.0]


def series_answer(
    question: str = "daily spend last 7 days",
    *,
    values: list[float] | None = None,
    currencies: tuple[str, ...] = ("USD",),
    granularity: str = "day",
    start: date = date(2026, 11, 15),
    unit: str = "money",
    title: str = "Daily spend · project bert-training · last 7 days",
) -> Answer:
    values = VALUES if values is None else values
    step = {"day": 1, "week": 7, "month": 31}[granularity]
    keys = []
    for i in range(len(values)):
        d = start + timedelta(days=step * i)
        keys.append(d.replace(day=1) if granularity == "month" else d)
    rows: list[Row] = []
    totals: dict[str, float] = {}
    for key, value in zip(keys, values, strict=True):
        for n, currency in enumerate(currencies):
            if unit == "gpu_hours":
                rows.append(Row(key=key.isoformat(), cost=0.0, currency="", quantity=value))
                continue
            amount = value * (1 + n * 10)
            rows.append(Row(key=key.isoformat(), cost=amount, currency=currency))
            totals[currency] = totals.get(currency, 0.0) + amount
    end = (keys[-1] + timedelta(days=step - 1)) if keys else start
    return Answer(
        question=question,
        kind="series",
        title=title,
        period=Period(start, end, "last 7 days", "days"),
        granularity=granularity,
        rows=rows,
        totals=totals,
        unit=unit,
        quantity=sum(values) if unit == "gpu_hours" else None,
        measure="EffectiveCost" if unit == "money" else None,
        data_through="2026-11-21",
        loaded_at="2026-11-22T05:00:00+00:00",
    )
