"""Forecast and run-rate answers: a subject's month- or quarter-end forecast with its 80%
interval (forecast.service), the 7-day run rate, and the live GPU estimate for the days
billing does not cover yet, kept apart from both."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from finops_bot.access import Grant, Scope
from finops_bot.forecast.budget_rules import period_bounds
from finops_bot.forecast.budgets import period_label
from finops_bot.forecast.service import RUN_RATE_DAYS, forecast_where, run_rate
from finops_bot.money import format_money
from finops_bot.questions.answer import Answer
from finops_bot.questions.cost_answers import Ctx, Subject
from finops_bot.questions.parse import Query
from finops_bot.questions.periods import Period, span
from finops_bot.questions.suggest import EXAMPLES

LIVE_DIMS = ("project", "team", "owner", "provider")  # what a GPU node's labels carry
Live = Callable[[date, date, Callable[[Mapping[str, Any]], bool] | None], Any]


def current_period(q: Query, today: date, fiscal_start: int) -> tuple[Period | None, str | None]:
    """The month or quarter holding ``today`` (→ its Period), or why not (a past or
    future period is not forecast)."""
    grain = q.granularity or "month"
    start, end = period_bounds(grain, today, fiscal_start)
    if q.by:  # "next month": not forecast yet
        return None, (
            f"I forecast the current month or quarter ({period_label(start, end, grain)}), "
            f"not {q.by}: ask “forecast this {grain}”."
        )
    if q.period_given and q.period is not None and not (start <= q.period.start <= end):
        return None, (
            f"I forecast the current month or quarter ({period_label(start, end, grain)}); "
            f"for {q.period.label}, ask for its cost (e.g. “cost {q.period.phrase}”)."
        )
    return Period(start, end, f"this {grain}", grain), None


def live_keep(subject: Subject, scope: Scope | None):
    """Which GPU nodes count for a subject's live estimate, inside the access scope; None
    when GPU nodes cannot belong to the subject (a service, a region)."""
    if subject.dim != "*" and subject.dim not in LIVE_DIMS:
        return None
    grant = Grant() if subject.dim == "*" else Grant.of({subject.dim: [subject.label]})

    def keep(values: Mapping[str, Any]) -> bool:
        return grant.admits(values) and (scope is None or scope.admits(values))

    return keep


def outlook_answer(db, q: Query, subject: Subject, base: dict, view, today: date, live: Live,
                   budgets, fiscal_start: int) -> Answer:  # fmt: skip
    """A forecast or run-rate question about ``subject`` (the current month or quarter)."""
    period, problem = current_period(q, today, fiscal_start)
    if period is None:
        return Answer(kind="error", message=problem, suggestions=EXAMPLES[:3], **base)
    ctx = Ctx(db, view.names, base["measure"], base, list(q.notes), view.all, view.describe())
    if q.kind == "run_rate":
        return run_rate_answer(ctx, subject, period, today)
    scope = view.scope if view.limited else None
    line = budget_line(db, budgets, subject, q.granularity or "month", view)
    return forecast_answer(ctx, q, subject, period, today, live, live_keep(subject, scope), line)


def budget_line(db, budgets, subject: Subject, grain: str, view) -> float | None:
    """The amount of the one visible budget whose scope is the subject, if any."""
    from finops_bot.questions.budget_answers import visible_budgets

    wanted = {} if subject.dim == "*" else {subject.dim: subject.label}
    found = [b for b in visible_budgets(db, budgets, view)
             if b.period == grain and not b.untagged and b.scope_filters == wanted]  # fmt: skip
    return found[0].amount if len(found) == 1 else None


def forecast_answer(
    ctx: Ctx,
    q: Query,
    subject: Subject,
    period: Period,
    today: date,
    live: Live | None,
    keep,
    budget_line: float | None = None,
) -> Answer:
    key = None if subject.dim == "*" else (subject.dim, subject.label)
    found = forecast_where(ctx.db, subject.where, period.start, period.end, today, ctx.measure, key)
    answer = Answer(
        **ctx.base,
        kind="forecast",
        title=f"Forecast: {subject.title}",
        period=period,
        filters=subject.filters,
        forecasts=found,
        totals={f.currency: f.result.total for f in found if f.ok},
        budget_line=budget_line,
        notes=list(ctx.notes),
        scope=ctx.scope,
    )
    answer.basis = "forecast of the period total: " + "; ".join(
        sorted({f.result.method for f in found if f.ok})
    )
    if not found:
        answer.nothing = f"No billing data for {subject.title} to forecast from."
    elif not answer.totals:
        answer.nothing = "Not forecast: " + "; ".join(f.result.reason for f in found)
    for f in found:
        if f.ok:
            answer.notes.append(_billed_line(f))
    if live is not None and keep is not None:
        answer.live_estimate = live(period.start, min(period.end, today), keep)
        if answer.live_estimate is not None:
            answer.notes.append(live_note(answer.live_estimate))
    name = subject.key or subject.label
    answer.suggestions = [
        f"run rate for {name}" if key else "run rate",
        f"budget for {name}" if key and subject.dim in LIVE_DIMS else "are we on budget",
    ]
    return answer


def _billed_line(f) -> str:
    r = f.result
    through = f"billed through {f.through}" if f.through else "nothing billed yet"
    parts = [f"{through}: {format_money(r.actual, f.currency)} so far"]
    if r.one_offs:
        parts.append(
            f"including {format_money(r.one_offs, f.currency)} of purchases, "
            "taxes and credits (added as they are, not extrapolated)"
        )
    line = (
        f"{'; '.join(parts)}. {int(r.interval * 100)}% interval "
        f"{format_money(r.low, f.currency)} – {format_money(r.high, f.currency)}."
    )
    if f.pace is not None:
        pace = format_money(f.pace, f.currency)
        if (f.end - f.start).days > 31:
            line += f" QTD pace (quarter-to-date ÷ days so far × days in the quarter): {pace}."
        else:
            line += f" MTD pace (month-to-date ÷ days so far × days in the month): {pace}."
    if r.shift_from:
        line += f" The rest continues at the level since {r.shift_from} (an open level shift)."
    return line[:1].upper() + line[1:]


def live_note(est) -> str:
    whose = "node's" if est.nodes == 1 else "nodes'"
    days = span(est.start, est.end)
    return (
        f"Live GPU estimate {days} (so far): {format_money(est.total, est.currency)} from "
        f"{est.nodes} {whose} heartbeats, priced at "
        f"{est.price_basis}; an estimate for days billing does not cover yet, kept apart "
        "from the figures above."
    )


def run_rate_answer(ctx: Ctx, subject: Subject, period: Period, today: date) -> Answer:
    found = run_rate(ctx.db, subject.where, today, ctx.measure, period.days)
    answer = Answer(
        **ctx.base,
        kind="run_rate",
        title=f"7-day run rate: {subject.title}",
        period=period,
        filters=subject.filters,
        notes=list(ctx.notes),
        scope=ctx.scope,
    )
    if found is None or not found[2]:
        answer.nothing = f"No billed usage for {subject.title} in the last {RUN_RATE_DAYS} days."
        return answer
    first, last, rates = found
    answer.totals = rates
    answer.basis = (
        f"7-day run rate: average daily usage over the last {RUN_RATE_DAYS} billed days "
        f"({span(first, last)}) × {period.days} days"
    )
    answer.notes.insert(0, answer.basis + " (ChargeCategory Usage; not a forecast).")
    answer.suggestions = [
        f"forecast for {subject.key or subject.label}"
        if subject.dim != "*"
        else "forecast this month"
    ]
    return answer
