"""Budgets against their period's spend and forecast: the warning ladder's readings.

``status`` is pure reading (store reads and the forecast service, ``today`` from the
caller); ``check`` also records the ladder in store.budget_ledger. A budget in a
currency the data does not have says so and is never checked (currencies are never
converted). ``driven_by``: the child subject (a team's projects, a project's services,
…) with the largest share of forecast minus pro-rated budget — the child's forecast is
its spend so far plus its share of the subject's last 14 billed days of usage applied to
the rest of the forecast, and its pro-rated budget the amount × its share of the
previous period's spend (of the spend so far when there is none)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from finops_bot.access import Grant, Scope
from finops_bot.forecast.budget_rules import Budget, period_bounds
from finops_bot.forecast.model import Forecast, TooLittle
from finops_bot.forecast.service import USAGE, SubjectForecast, billed_through, forecast_where
from finops_bot.providers import cloud_of, fold
from finops_bot.store import budget_ledger, reads
from finops_bot.store.budget_ledger import FORECAST, Reading
from finops_bot.store.reads import Where

CHILD = {None: "team", "team": "project", "owner": "project", "project": "service"}
CHILD_DEFAULT = "service"
SHARE_DAYS = 14
Live = Callable[[date, date, Callable[[Mapping[str, Any]], bool] | None], Any]


@dataclass
class BudgetStatus:
    budget: Budget
    start: date
    end: date
    label: str
    measure: str
    amount: float | None  # None: no amount for this period
    spent: float | None = None  # None: the data has no spend in the budget's currency
    data_through: str | None = None
    forecast: Forecast | TooLittle | None = None
    pace: float | None = None
    driven_by: str | None = None
    live: Any = None  # gpu.burn.LiveEstimate: the days billing does not cover yet
    problem: str | None = None  # why it is not checked (said, never a zero)
    hits_on: date | None = None  # the day the expected spend reaches the amount

    @property
    def percent(self) -> float | None:
        if self.spent is None or not self.amount:
            return None
        return self.spent / self.amount * 100

    @property
    def crossed(self) -> list[float]:
        pct = self.percent
        return [] if pct is None else [t for t in self.budget.thresholds if pct >= t]

    @property
    def forecast_over(self) -> bool:
        ft = self.budget.forecast_threshold
        if not ft or not isinstance(self.forecast, Forecast) or not self.amount:
            return False
        return self.forecast.total >= self.amount * ft / 100

    @property
    def left(self) -> float | None:
        return None if self.spent is None or self.amount is None else self.amount - self.spent

    @property
    def at_risk(self) -> bool:
        pct = self.percent
        return self.forecast_over or (pct is not None and pct >= 100)

    def to_dict(self) -> dict[str, Any]:
        f = self.forecast
        return {
            "name": self.budget.name,
            "scope": self.budget.scope,
            "period": {
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
                "label": self.label,
            },
            "amount": self.amount,
            "currency": self.budget.currency,
            "measure": self.measure,
            "spent": _r(self.spent),
            "percent": _r(self.percent, 2),
            "left": _r(self.left),
            "data_through": self.data_through,
            "forecast": _forecast_dict(f),
            "crossed": self.crossed,
            "forecast_over": self.forecast_over,
            "driven_by": self.driven_by,
            "hits_on": self.hits_on.isoformat() if self.hits_on else None,
            "live_estimate": self.live.to_dict() if self.live is not None else None,
            "problem": self.problem,
        }


def _forecast_dict(f) -> dict | None:
    if isinstance(f, Forecast):
        return {
            "total": _r(f.total),
            "low": _r(f.low),
            "high": _r(f.high),
            "interval": f.interval,
            "method": f.method,
        }
    if isinstance(f, TooLittle):
        return {
            "total": None,
            "low": None,
            "high": None,
            "interval": None,
            "method": None,
            "reason": f.reason,
        }
    return None


def _r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def period_label(start: date, end: date, kind: str) -> str:
    if kind == "month":
        return start.strftime("%B %Y")
    return f"{start:%b %Y} – {end:%b %Y}"


def status(
    db: Database,
    budget: Budget,
    today: date,
    measure: str,
    fiscal_start: int = 1,
    live: Live | None = None,
) -> BudgetStatus:
    """One budget's period holding ``today``, as billed before ``today``. ``live``: the
    live GPU estimate for the days billing does not cover yet (gpu.burn), or None."""
    measure = budget.measure or measure
    start, end = period_bounds(budget.period, today, fiscal_start)
    label = period_label(start, end, budget.period)
    s = BudgetStatus(budget, start, end, label, measure, budget.amount_for(start))
    if s.amount is None:
        s.problem = f'no amount is set for {label} (amounts has no "{start:%Y-%m}")'
        return s
    where = where_of(db, budget)
    subject = None if budget.dim is None or budget.untagged else (budget.dim, budget.value)
    mine = _mine(forecast_where(db, where, start, end, today, measure, subject), budget)
    through = billed_through(db, where, start, today)
    spent = reads.totals(db, where, start, min(end, today - timedelta(days=1)), measure)
    if budget.currency not in spent and mine is None:
        others = sorted(spent) or sorted(
            reads.totals(db, where, start - timedelta(days=90), today, measure)
        )
        has = f"it has {', '.join(others)}" if others else "it has no spend for it at all"
        s.problem = (
            f"the data has no {budget.currency} spend for {budget.scope} ({has}); "
            "currencies are never converted, so this budget is not checked"
        )
        return s
    s.spent = spent.get(budget.currency, 0.0)
    s.data_through = through.isoformat() if through else None
    if mine is not None:
        s.forecast, s.pace = mine.result, mine.pace
        s.hits_on = _hits_on(mine.result, s.amount, s.spent)
    s.driven_by = _driven_by(db, budget, s, measure, through)
    if live is not None and end >= today - timedelta(days=3):
        s.live = live(start, min(end, today), _keep(budget))
    return s


def where_of(db: Database, budget: Budget) -> Where:
    """The budget's scope as the data spells it: a provider by its cloud ("aws" is "AWS"
    and "Amazon Web Services"), any other name by its folded spelling, as questions match."""
    if budget.dim is None or budget.untagged:
        return budget.where
    same = cloud_of if budget.dim == "provider" else fold
    wanted = same(budget.value)
    values = [v for d, v, _ in reads.names(db) if d == budget.dim and v and same(v) == wanted]
    return Where.of({budget.dim: values or [budget.value]})


def _mine(found: list[SubjectForecast], budget: Budget) -> SubjectForecast | None:
    return next((f for f in found if f.currency == budget.currency), None)


def _hits_on(f: Forecast | TooLittle, amount: float, spent: float) -> date | None:
    if not isinstance(f, Forecast) or spent >= amount:
        return None
    return next((day for day, cum, _, _ in f.path if cum >= amount), None)


def _keep(budget: Budget) -> Callable[[Mapping[str, Any]], bool] | None:
    """Which GPU nodes a budget's live estimate counts (their project, team, owner …)."""
    if budget.untagged:
        return lambda values: not values.get("project")
    if budget.dim is None:
        return None
    grant = Grant.of({budget.dim: [budget.value]})
    return grant.admits


def _driven_by(db, budget: Budget, s: BudgetStatus, measure: str, through) -> str | None:
    if not isinstance(s.forecast, Forecast) or through is None or s.spent is None:
        return None
    child = CHILD.get(None if budget.untagged else budget.dim, CHILD_DEFAULT)
    if budget.untagged:
        child = CHILD_DEFAULT
    where, cur = where_of(db, budget), budget.currency
    to_date = _shares(reads.grouped(db, where, child, s.start, through, measure), cur)
    recent = _shares(
        reads.grouped(
            db, where, child, through - timedelta(days=SHARE_DAYS - 1), through, measure, USAGE
        ),
        cur,
    )
    before_end = s.start - timedelta(days=1)
    before_start = period_bounds(budget.period, before_end)[0]
    usual = _shares(reads.grouped(db, where, child, before_start, before_end, measure), cur)
    usual = usual or to_date
    rest = s.forecast.total - s.spent
    total_to_date, total_recent, total_usual = (sum(x.values()) for x in (to_date, recent, usual))
    best, best_gap = None, 0.0
    for key in set(to_date) | set(recent):
        share_recent = recent.get(key, 0.0) / total_recent if total_recent else 0.0
        share_usual = usual.get(key, 0.0) / total_usual if total_usual else 0.0
        gap = to_date.get(key, 0.0) + rest * share_recent - s.amount * share_usual
        if key and gap > best_gap:
            best, best_gap = key, gap
    return best if total_to_date else None


def _shares(rows, currency: str) -> dict[str, float]:
    return {key: total for key, cur, total in rows if cur == currency}


def visible(budgets: Iterable[Budget], scope: Scope | None, teams: Mapping[str, str]):
    """The budgets an audience may see: its access scope admits the budget's scope (a
    project budget carries its team too; all spend and untagged: everything only)."""
    out = []
    for b in budgets:
        values = dict(b.scope_filters)
        if b.dim == "project" and b.value in teams:
            values["team"] = teams[b.value]
        if scope is None or scope.everything or (values and scope.admits(values)):
            out.append(b)
    return out


def reading(s: BudgetStatus) -> Reading | None:
    """What the ladder records of one status (None: not checked)."""
    if s.spent is None or s.amount is None or s.problem:
        return None
    crossed = {_name(t) for t in s.crossed}
    if s.forecast_over:
        crossed.add(FORECAST)
    below = {_name(t) for t in s.budget.thresholds if _name(t) not in crossed}
    return Reading(
        s.budget.name,
        s.start.isoformat(),
        s.amount,
        s.budget.currency,
        s.spent,
        s.data_through,
        frozenset(crossed),
        frozenset(below),
    )


def _name(threshold: float) -> str:
    return f"{threshold:g}"


@dataclass
class Checked:
    status: BudgetStatus
    new: list[str] = field(default_factory=list)  # thresholds crossed for the first time


def check(
    db,
    budgets,
    today: date,
    now: datetime,
    measure: str,
    fiscal_start: int = 1,
    live: Live | None = None,
) -> list[Checked]:
    """Read every budget and record its ladder; → each status with its new crossings."""
    out = []
    for b in budgets:
        s = status(db, b, today, measure, fiscal_start, live)
        r = reading(s)
        out.append(Checked(s, budget_ledger.record(db, r, now) if r else []))
    return out
