"""The answer object every path ends in; renderers turn it into text, JSON or Block Kit.
They read its fields (unit, freshness source, what it summed), never its kind.

JSON contract (schema_version 1, stable; fields are only ever added): see the README,
"JSON contract". Kinds: cost, total, top, breakdown, compare, untagged, pricing,
candidates, idle_gpus, idle_cost, series, compare_subjects, names, why, anomalies,
forecast, run_rate, budget, burn_now, commitment_utilization, commitment_coverage,
savings_rate, unused_commitments, commitment_purchases, commitment_expiry, the use-case
library's kinds (questions.library.KINDS), portfolio, step_cost, gpu_hour_cost, unsupported,
help, not_understood, unknown_name, empty, error, refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from finops_bot.questions.periods import Period

SCHEMA_VERSION = 1
NUMBERLESS = (
    "unsupported",
    "help",
    "not_understood",
    "unknown_name",
    "empty",
    "error",
    "candidates",
    "refused",
)


@dataclass
class Row:
    key: str
    cost: float
    currency: str
    previous_cost: float | None = None
    quantity: float | None = None  # unit gpu_hours: the hours (cost 0, currency "")
    unit: str | None = None  # what ``quantity`` counts (a ConsumedUnit, "1k steps")
    previous_quantity: float | None = None  # the quantity in the period compared with

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "cost": round(self.cost, 6),
            "currency": self.currency,
        }
        if self.previous_cost is not None:
            out["previous_cost"] = round(self.previous_cost, 6)
        if self.quantity is not None:
            out["quantity"] = round(self.quantity, 6)
        if self.unit is not None:
            out["unit"] = self.unit
        if self.previous_quantity is not None:
            out["previous_quantity"] = round(self.previous_quantity, 6)
        return out


@dataclass(frozen=True)
class Rate:
    """A ratio and what it is made of: numerator ÷ denominator, both in ``unit`` (a
    currency code, "hours", or the commitment's unit)."""

    key: str
    ratio: float | None
    numerator: float
    denominator: float
    unit: str
    basis: str = ""  # what the ratio is of, e.g. "over list price"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "ratio": None if self.ratio is None else round(self.ratio, 6),
            "numerator": round(self.numerator, 6),
            "denominator": round(self.denominator, 6),
            "unit": self.unit,
            "basis": self.basis,
        }


@dataclass
class Comparison:
    period: Period
    totals: dict[str, float]  # currency → total

    def change_pct(self, current: dict[str, float]) -> float | None:
        if len(current) != 1 or set(current) != set(self.totals):
            return None
        (cur,) = current
        before = self.totals[cur]
        if before == 0:
            return None
        return (current[cur] - before) / abs(before) * 100


@dataclass(frozen=True)
class Fresh:
    """How fresh one provider's data is in one source (or the fleet's heartbeats)."""

    provider: str
    source: str
    data_through: str | None
    loaded_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "source": self.source,
            "data_through": self.data_through,
            "loaded_at": self.loaded_at,
        }


@dataclass(frozen=True)
class Candidate:
    dimension: str
    name: str
    question: str  # the question to ask for this one

    def to_dict(self) -> dict[str, str]:
        return {"dimension": self.dimension, "name": self.name, "question": self.question}


@dataclass
class Answer:
    question: str
    kind: str
    title: str = ""
    period: Period | None = None
    filters: dict[str, str] = field(default_factory=dict)
    measure: str | None = "EffectiveCost"  # None: not summed from billing data (GPU answers)
    totals: dict[str, float] = field(default_factory=dict)  # currency → total
    rows: list[Row] = field(default_factory=list)
    previous: Comparison | None = None
    data_through: str | None = None
    loaded_at: str | None = None
    suggestions: list[str] = field(default_factory=list)
    message: str | None = None
    notes: list[str] = field(default_factory=list)
    more_rows: int = 0  # rows left out of ``rows``
    unit: str | None = "money"  # money, money_per_hour, gpu_hours, ratio, quantity (rows'
    # quantities in their own units), money_per_unit (rows' cost per their unit); None: no number
    freshness: list[Fresh] = field(default_factory=list)
    fresh_from: str = "billing"  # "billing" (charge days) or "heartbeats"
    candidates: list[Candidate] = field(default_factory=list)
    summed: dict[str, list[str]] = field(default_factory=dict)  # FOCUS column → values
    did_you_mean: list[str] = field(default_factory=list)
    nothing: str | None = None  # what to say when there are no totals
    basis: str | None = None  # how a number that is not a billing measure was made
    rows_totals: dict[str, float] | None = None  # top N: the shown rows' totals
    granularity: str | None = None  # series: day, week or month (rows keyed by bucket start)
    quantity: float | None = None  # unit gpu_hours: the total hours (no currency)
    scope: str | None = None  # the access scope that limited it, described; None: not limited
    cards: list = field(default_factory=list)  # proposals (store.proposals) shown as cards
    forecasts: list = field(default_factory=list)  # forecast.service.SubjectForecast, one
    # per currency (kind forecast); the budget line, when a budget covers the subject
    budget_line: float | None = None
    budgets: list = field(default_factory=list)  # forecast.budgets.BudgetStatus
    live_estimate: Any = None  # gpu.burn.LiveEstimate: days billing does not cover yet
    ratio: float | None = None  # unit ratio: the answer's one rate (None: see rates)
    rates: list[Rate] = field(default_factory=list)  # unit ratio: each rate and its parts
    missing_columns: list[str] = field(default_factory=list)  # unsupported: what is lacking
    sources_lacking: list[str] = field(default_factory=list)  # … and the sources lacking it
    changes: bool = False  # rows are signed changes (why: against ``previous``; anomalies:
    # each one's impact), shown with their sign; not in the JSON (``kind`` says so)

    @property
    def currency(self) -> str | None:
        return next(iter(self.totals)) if len(self.totals) == 1 else None

    @property
    def total(self) -> float | None:
        return self.totals[self.currency] if self.currency else None

    @property
    def has_number(self) -> bool:
        return self.kind not in NUMBERLESS

    @property
    def refused(self) -> bool:
        """Not answered: outside what its audience may see (finops_bot.access)."""
        return self.kind == "refused"

    @property
    def per_hour(self) -> bool:
        return self.unit == "money_per_hour"

    def to_dict(self) -> dict[str, Any]:
        previous = None
        if self.previous:
            prev_cur = next(iter(self.previous.totals)) if len(self.previous.totals) == 1 else None
            previous = {
                "period": _period(self.previous.period),
                "total": round(self.previous.totals[prev_cur], 6) if prev_cur else None,
                "totals": _totals(self.previous.totals),
                "currency": prev_cur,
                "change_pct": _round(self.previous.change_pct(self.totals), 2),
            }
        rows_totals = self.rows_totals or {}
        return {
            "schema_version": SCHEMA_VERSION,
            "question": self.question,
            "kind": self.kind,
            "title": self.title,
            "period": _period(self.period) if self.period else None,
            "filters": dict(self.filters),
            "measure": self.measure,
            "unit": self.unit if self.has_number else None,
            "currency": self.currency,
            "total": _round(self.total, 6) if self.has_number else None,
            "totals": _totals(self.totals),
            "rows": [r.to_dict() for r in self.rows],
            "more_rows": self.more_rows,
            "rows_total": _round(next(iter(rows_totals.values())), 6)
            if len(rows_totals) == 1
            else None,
            "rows_totals": _totals(rows_totals) if self.rows_totals is not None else None,
            "previous": previous,
            "data_through": self.data_through,
            "loaded_at": self.loaded_at,
            "freshness": [f.to_dict() for f in self.freshness],
            "summed": {k: list(v) for k, v in self.summed.items()},
            "candidates": [c.to_dict() for c in self.candidates],
            "suggestions": list(self.suggestions),
            "did_you_mean": list(self.did_you_mean),
            "message": self.message,
            "notes": list(self.notes),
            "basis": self.basis,
            "granularity": self.granularity,
            "quantity": _round(self.quantity, 6),
            "scope": self.scope,
            "forecast": _forecast(self.forecasts[0]) if len(self.forecasts) == 1 else None,
            "forecasts": [_forecast(f) for f in self.forecasts],
            "budget_line": self.budget_line,
            "budgets": [b.to_dict() for b in self.budgets],
            "live_estimate": self.live_estimate.to_dict() if self.live_estimate else None,
            "ratio": _round(self.ratio, 6),
            "rates": [r.to_dict() for r in self.rates],
            "missing_columns": list(self.missing_columns),
            "sources_lacking": list(self.sources_lacking),
        }


def _forecast(f) -> dict[str, Any]:
    """A forecast.service.SubjectForecast as the JSON contract has it."""
    r = f.result
    ok = f.ok
    return {
        "currency": f.currency,
        "total": _round(r.total, 6) if ok else None,
        "low": _round(r.low, 6) if ok else None,
        "high": _round(r.high, 6) if ok else None,
        "interval": r.interval if ok else None,
        "method": r.method if ok else None,
        "actual": _round(r.actual, 6) if ok else None,
        "one_offs": _round(r.one_offs, 6) if ok else None,
        "as_of": f.as_of.isoformat(),
        "data_through": f.through.isoformat() if f.through else None,
        "mtd_pace": _round(f.pace, 6),
        "reason": None if ok else r.reason,
    }


def _totals(totals: dict[str, float]) -> list[dict[str, Any]]:
    return [{"currency": c, "total": round(v, 6)} for c, v in totals.items()]


def _period(p: Period) -> dict[str, str]:
    return {"start": p.start.isoformat(), "end": p.end.isoformat(), "label": p.label}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
