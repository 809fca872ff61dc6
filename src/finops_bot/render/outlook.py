"""Forecast, budget and live-estimate lines for the text and Block Kit renderers: they read
the answer's ``forecasts``, ``budgets`` and ``live_estimate`` fields (never its kind)."""

from __future__ import annotations

from finops_bot.forecast.model import Forecast
from finops_bot.money import format_money
from finops_bot.questions.answer import Answer
from finops_bot.render.charts import sparkline

SPARK_DAYS = 92  # a quarter's days fit one line


def forecast_lines(answer: Answer) -> list[str]:
    """Per currency: the interval, the budget line, and a sparkline of the days billed so
    far ▸ the expected days to come."""
    lines = []
    for f in answer.forecasts:
        r = f.result
        if not isinstance(r, Forecast):
            continue
        money = lambda v, c=f.currency: format_money(v, c)  # noqa: E731
        lines.append(f"{int(r.interval * 100)}% interval: {money(r.low)} – {money(r.high)}")
        if answer.budget_line is not None:
            over = r.total - answer.budget_line
            word = "over" if over > 0 else "under"
            lines.append(f"Budget {money(answer.budget_line)}: forecast {money(abs(over))} {word}")
        spark = forecast_spark(f)
        if spark:
            lines.append(spark)
    return lines


def forecast_spark(f) -> str:
    """'▂▃▃▂▅|▄▄▅▄' — daily billed so far, then the expected daily rest (one scale)."""
    r = f.result
    expected, before = [], r.actual
    for _, cum, _, _ in r.path:
        expected.append(cum - before)
        before = cum
    values = [*f.daily, *expected][:SPARK_DAYS]
    if len(values) < 2:
        return ""
    line = sparkline(values)
    cut = min(len(f.daily), len(line))
    return f"daily: {line[:cut]}▕{line[cut:]}  (billed ▕ forecast)"


def budget_lines(answer: Answer) -> list[str]:
    return status_lines(answer.budgets)


def status_lines(statuses: list) -> list[str]:
    """One short paragraph per budget: spent of amount, the forecast and its interval,
    what crossed, what drives it, when it hits, the live estimate; or why it is unchecked."""
    out = []
    for s in statuses:
        b, cur = s.budget, s.budget.currency
        head = f"{b.name} ({b.scope}, {s.label})"
        if s.problem:
            out.append(f"{head}: not checked — {s.problem}.")
            continue
        line = f"{head}: {format_money(s.spent, cur)} of {format_money(s.amount, cur)}"
        left = f"{format_money(s.left, cur)} left" if s.left >= 0 else (
            f"{format_money(-s.left, cur)} over")  # fmt: skip
        line += f" ({s.percent:.0f}%), {left}"
        if s.data_through:
            line += f", billed through {s.data_through}"
        out.append(line + ".")
        if isinstance(s.forecast, Forecast):
            f = s.forecast
            flag = " — over budget" if s.forecast_over else ""
            out.append(
                f"  Forecast {format_money(f.total, cur)} (80%: {format_money(f.low, cur)} – "
                f"{format_money(f.high, cur)}){flag}."
            )
        elif s.forecast is not None:
            out.append(f"  Not forecast: {s.forecast.reason}.")
        if s.crossed:
            out.append("  Crossed: " + ", ".join(f"{t:g}%" for t in s.crossed) + " of the budget.")
        if s.hits_on:
            out.append(f"  At the forecast it reaches the budget on {s.hits_on}.")
        elif s.spent is not None and s.amount and s.spent >= s.amount:
            out.append("  Already over the budget.")
        elif isinstance(s.forecast, Forecast) and s.forecast.total < s.amount:
            out.append(f"  At the forecast it does not reach the budget this period (under by "
                       f"{format_money(s.amount - s.forecast.total, cur)}).")  # fmt: skip
        if s.driven_by and s.forecast_over:
            out.append(
                f"  Driven by {s.driven_by} (the largest share of forecast over pro-rated budget)."
            )
        if s.live is not None:
            from finops_bot.questions.outlook_answers import live_note

            out.append("  " + live_note(s.live))
    return out


def rate_lines(answer: Answer) -> list[str]:
    """A ratio answer: its one rate (when there is one), then each rate and its parts."""
    lines = []
    if answer.ratio is not None:
        lines.append(f"{answer.ratio * 100:.1f}%" + (f" ({answer.basis})" if answer.basis else ""))
    for r in answer.rates:
        parts = f"{_amount(r.numerator, r.unit)} of {_amount(r.denominator, r.unit)}"
        value = "n/a" if r.ratio is None else f"{r.ratio * 100:.1f}%"
        lines.append(f"{r.key}: {value} ({parts})")
    return lines


def _amount(value: float, unit: str) -> str:
    if len(unit) == 3 and unit.isupper():  # a currency code
        return format_money(value, unit)
    return f"{value:,.1f} {unit}".strip()


def outlook_lines(answer: Answer) -> list[str]:
    return forecast_lines(answer) + budget_lines(answer) + rate_lines(answer)


def crossing_text(s, threshold: str) -> str:
    """The post for one new crossing: which budget, what crossed, spent of amount, the
    forecast, what drives it and how fresh the billing is."""
    b, cur = s.budget, s.budget.currency
    if threshold == "forecast":
        what = f"is forecast over {b.forecast_threshold:g}% of its budget"
        icon = ":crystal_ball:"
    else:
        what = f"crossed {threshold}% of its budget"
        icon = ":rotating_light:" if float(threshold) >= 100 else ":warning:"
    line = (
        f"{icon} Budget {b.name} ({b.scope}, {s.label}) {what}: "
        f"{format_money(s.spent, cur)} of {format_money(s.amount, cur)} ({s.percent:.0f}%)"
    )
    if isinstance(s.forecast, Forecast):
        f = s.forecast
        line += (
            f"; forecast {format_money(f.total, cur)} "
            f"(80%: {format_money(f.low, cur)} – {format_money(f.high, cur)})"
        )
    if s.driven_by:
        line += f"; driven by {s.driven_by}"
    if s.data_through:
        line += f". Billed through {s.data_through} ({s.measure})"
    return line + "."
