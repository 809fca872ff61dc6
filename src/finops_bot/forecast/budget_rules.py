"""``[[budgets]]``, validated once; a bad key or value is named in one line.

A budget's scope is at most one key of the shared scope grammar (finops_bot.access), in
the singular (``team = "nlp"``) or the plural with one value (``teams = ["nlp"]``), or
``untagged = true`` (spend with no project tag); none = all spend. ``amounts`` keys name
the period by the month it starts in ("2026-11"; a quarter by its first month)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from finops_bot.access import SCOPE_KEYS
from finops_bot.errors import ConfigError
from finops_bot.store.reads import Where
from finops_bot.tables import check_table

SINGULAR = {v: v for v in SCOPE_KEYS.values()}  # "team" → "team"
SCOPE_WORDS = {**SINGULAR, **SCOPE_KEYS}  # and "teams" → "team"
PERIODS = ("month", "quarter")
BUDGET_KEYS = {
    "name",
    "amount",
    "amounts",
    "currency",
    "period",
    "measure",
    "channel",
    "thresholds",
    "forecast_threshold",
    "untagged",
    *SCOPE_WORDS,
}
DEFAULT_THRESHOLDS = (50, 80, 100)
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_CURRENCY = re.compile(r"[A-Z]{3}")
EXAMPLE = '[[budgets]] name = "nlp", team = "nlp", amount = 40000, currency = "USD"'


@dataclass(frozen=True)
class Budget:
    name: str
    dim: str | None  # the scope's dimension (project, team, owner, provider, account)
    value: str | None  # its value; both None: all spend (or untagged spend)
    currency: str
    period: str = "month"
    amount: float | None = None  # every period
    amounts: Mapping[str, float] = field(default_factory=dict)  # "2026-11" → amount
    measure: str | None = None  # None: the configured measure
    channel: str | None = None
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS  # % of actual spend
    forecast_threshold: float = 100.0  # % of the forecast; 0: off
    untagged: bool = False

    @property
    def where(self) -> Where:
        if self.untagged:
            return Where.of({"project": [""]})
        return Where.of({self.dim: [self.value]}) if self.dim else Where()

    @property
    def scope(self) -> str:
        """The scope in words: "team nlp", "untagged spend", "all spend"."""
        if self.untagged:
            return "untagged spend"
        return f"{self.dim} {self.value}" if self.dim else "all spend"

    @property
    def scope_filters(self) -> dict[str, str]:
        """What an access scope must admit to see this budget (untagged: project "")."""
        if self.untagged:
            return {"project": ""}
        return {self.dim: self.value} if self.dim else {}

    def amount_for(self, start: date) -> float | None:
        """The amount for the period starting on ``start`` (None: none set for it)."""
        return self.amounts.get(start.strftime("%Y-%m"), self.amount)


@dataclass(frozen=True)
class BudgetRules:
    budgets: tuple[Budget, ...] = ()

    def named(self, name: str) -> Budget | None:
        return next((b for b in self.budgets if b.name == name), None)


def period_bounds(kind: str, day: date, fiscal_start: int = 1) -> tuple[date, date]:
    """The calendar month, or the (fiscal) quarter, holding ``day``: (first, last day)."""
    if kind == "month":
        start = day.replace(day=1)
        months = 1
    else:
        offset = (day.month - fiscal_start) % 3
        start = _add_months(day.replace(day=1), -offset)
        months = 3
    return start, _add_months(start, months) - timedelta(days=1)


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def parse_budgets(raw: Any, measure_of=None, fiscal_start: int = 1) -> BudgetRules:
    """``measure_of``: the config's measure normaliser (a bad measure is named)."""
    if raw is None:
        return BudgetRules()
    if not isinstance(raw, list):
        raise ConfigError(f"[[budgets]]: write each as {EXAMPLE}")
    budgets = tuple(_budget(i, b, measure_of, fiscal_start) for i, b in enumerate(raw, 1))
    names = [b.name for b in budgets]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice:
        raise ConfigError(f"[[budgets]] name = {twice!r} is used twice; give each its own name")
    return BudgetRules(budgets)


def _budget(number: int, raw: Any, measure_of, fiscal_start: int) -> Budget:
    where = f"[[budgets]] #{number}"
    table = check_table(raw, where, BUDGET_KEYS, EXAMPLE)
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f'{where}: name must be a short lower-case word, e.g. name = "nlp"')
    where = f"[[budgets]] {name}"
    dim, value, untagged = _scope(where, table)
    currency = table.get("currency", "USD")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise ConfigError(f'{where}: currency must be a 3-letter code, e.g. currency = "USD"')
    period = table.get("period", "month")
    if period not in PERIODS:
        raise ConfigError(f'{where}: period must be "month" or "quarter", not {period!r}')
    amount, amounts = _amounts(where, table, period, fiscal_start)
    measure = table.get("measure")
    if measure is not None:
        if not isinstance(measure, str) or measure_of is None:
            raise ConfigError(f'{where}: measure must be a name, e.g. measure = "EffectiveCost"')
        try:
            measure = measure_of(measure, f"{where} measure")
        except ConfigError:
            raise
    channel = table.get("channel")
    if channel is not None and (not isinstance(channel, str) or not _CHANNEL.fullmatch(channel)):
        raise ConfigError(f'{where}: channel must be a channel id, e.g. channel = "C0NLP"')
    return Budget(
        name=name,
        dim=dim,
        value=value,
        currency=currency,
        period=period,
        amount=amount,
        amounts=amounts,
        measure=measure,
        channel=channel,
        thresholds=_thresholds(where, table.get("thresholds", list(DEFAULT_THRESHOLDS))),
        forecast_threshold=_percent(
            where, "forecast_threshold", table.get("forecast_threshold", 100)
        ),
        untagged=untagged,
    )


def _scope(where: str, table: dict) -> tuple[str | None, str | None, bool]:
    given = [k for k in table if k in SCOPE_WORDS]
    untagged = table.get("untagged", False)
    if not isinstance(untagged, bool):
        raise ConfigError(f"{where}: untagged must be true or false")
    if len(given) + bool(untagged) > 1:
        raise ConfigError(
            f"{where}: give at most one scope key (project, team, owner, provider, account "
            f"or untagged = true), not {', '.join(given + (['untagged'] if untagged else []))}"
        )
    if not given:
        return None, None, untagged
    key = given[0]
    value = table[key]
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f'{where}: {key} must name one {SCOPE_WORDS[key]}, e.g. {key} = "nlp"')
    dim = SCOPE_WORDS[key]
    value = value.strip()
    return dim, value.lower() if dim == "owner" else value, False


def _amounts(where: str, table: dict, period: str, fiscal_start: int):
    amount, amounts = table.get("amount"), table.get("amounts")
    if (amount is None) == (amounts is None):
        raise ConfigError(
            f'{where}: give amount = 40000 or amounts = {{ "2026-11" = 40000 }} (one of them)'
        )
    if amount is not None:
        return _money(where, "amount", amount), {}
    if not isinstance(amounts, dict) or not amounts:
        raise ConfigError(
            f'{where}: amounts must be a table, e.g. amounts = {{ "2026-11" = 40000 }}'
        )
    out = {}
    for key, value in amounts.items():
        m = _MONTH.fullmatch(str(key))
        if not m:
            raise ConfigError(f'{where}: amounts key {key!r} must be a month, e.g. "2026-11"')
        first = date(int(m[1]), int(m[2]), 1)
        if period == "quarter" and period_bounds("quarter", first, fiscal_start)[0] != first:
            raise ConfigError(
                f"{where}: amounts key {key!r} is not the first month of a quarter "
                f"(quarters start in month {fiscal_start} and every 3 months after)"
            )
        out[str(key)] = _money(where, f'amounts."{key}"', value)
    return None, out


def _money(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: {key} must be a number, e.g. {key} = 40000")
    if value <= 0:
        raise ConfigError(f"{where}: {key} must be more than 0")
    return float(value)


def _thresholds(where: str, raw: Any) -> tuple[int, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: thresholds must be a list of percentages, e.g. [50, 80, 100]")
    values = [_percent(where, "thresholds", v) for v in raw]
    if any(v <= 0 for v in values) or len(set(values)) != len(values):
        raise ConfigError(f"{where}: thresholds must be different percentages above 0")
    return tuple(sorted(int(v) if float(v).is_integer() else v for v in values))


def _percent(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: {key} must be a percentage, e.g. {key} = 100")
    if not 0 <= value <= 1000:
        raise ConfigError(f"{where}: {key} must be between 0 and 1000 (a percentage)")
    return value
