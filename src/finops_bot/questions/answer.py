"""The answer object every path ends in; renderers turn it into text, JSON or Block Kit.

JSON contract (version 1, stable; fields are only ever added):
  question, kind, title, period {start, end, label}, filters {dim: name}, measure,
  currency (null when the answer spans several currencies), total (null likewise),
  totals [{currency, total}], rows [{key, cost, currency, previous_cost?}],
  previous {period, total, currency, change_pct} (comparisons), data_through, loaded_at,
  suggestions [str], message (help and errors), notes [str], schema_version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from finops_bot.questions.periods import Period

SCHEMA_VERSION = 1


@dataclass
class Row:
    key: str
    cost: float
    currency: str
    previous_cost: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "cost": round(self.cost, 6),
            "currency": self.currency,
        }
        if self.previous_cost is not None:
            out["previous_cost"] = round(self.previous_cost, 6)
        return out


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


@dataclass
class Answer:
    question: str
    kind: str  # cost total top breakdown compare untagged pricing help unknown_name empty error
    title: str = ""
    period: Period | None = None
    filters: dict[str, str] = field(default_factory=dict)
    measure: str = "EffectiveCost"
    totals: dict[str, float] = field(default_factory=dict)  # currency → total
    rows: list[Row] = field(default_factory=list)
    previous: Comparison | None = None
    data_through: str | None = None
    loaded_at: str | None = None
    suggestions: list[str] = field(default_factory=list)
    message: str | None = None
    notes: list[str] = field(default_factory=list)
    more_rows: int = 0  # rows left out of ``rows``

    @property
    def currency(self) -> str | None:
        return next(iter(self.totals)) if len(self.totals) == 1 else None

    @property
    def total(self) -> float | None:
        return self.totals[self.currency] if self.currency else None

    @property
    def has_number(self) -> bool:
        return self.kind not in ("help", "unknown_name", "empty", "error")

    def to_dict(self) -> dict[str, Any]:
        previous = None
        if self.previous:
            prev_cur = next(iter(self.previous.totals)) if len(self.previous.totals) == 1 else None
            previous = {
                "period": _period(self.previous.period),
                "total": round(self.previous.totals[prev_cur], 6) if prev_cur else None,
                "totals": [
                    {"currency": c, "total": round(v, 6)} for c, v in self.previous.totals.items()
                ],
                "currency": prev_cur,
                "change_pct": _round(self.previous.change_pct(self.totals), 2),
            }
        return {
            "schema_version": SCHEMA_VERSION,
            "question": self.question,
            "kind": self.kind,
            "title": self.title,
            "period": _period(self.period) if self.period else None,
            "filters": dict(self.filters),
            "measure": self.measure,
            "currency": self.currency,
            "total": _round(self.total, 6) if self.has_number else None,
            "totals": [{"currency": c, "total": round(v, 6)} for c, v in self.totals.items()],
            "rows": [r.to_dict() for r in self.rows],
            "more_rows": self.more_rows,
            "previous": previous,
            "data_through": self.data_through,
            "loaded_at": self.loaded_at,
            "suggestions": list(self.suggestions),
            "message": self.message,
            "notes": list(self.notes),
        }


def _period(p: Period) -> dict[str, str]:
    return {"start": p.start.isoformat(), "end": p.end.isoformat(), "label": p.label}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
