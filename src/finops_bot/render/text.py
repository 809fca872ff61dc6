"""Answer → plain text for a terminal. Reads the answer's fields (unit, freshness source,
what it summed), never its kind."""

from __future__ import annotations

import re

from finops_bot.money import format_change, format_money
from finops_bot.questions.answer import Answer
from finops_bot.render.charts import format_value, full_title, is_series, spark_lines
from finops_bot.render.outlook import outlook_lines

MEASURE_WORDS = {
    "EffectiveCost": "EffectiveCost: amortised, credits included",
    "BilledCost": "BilledCost: as invoiced",
    "ListCost": "ListCost: public list price",
}


def comparison_lines(answer: Answer) -> list[str]:
    """'vs <previous period>: <total> (<change>)', one line per currency."""
    prev = answer.previous
    if prev is None:
        return []
    lines = [
        f"vs {prev.period.describe()}: {format_money(before, currency)} "
        f"({format_change(answer.totals.get(currency, 0.0), before)})"
        for currency, before in prev.totals.items()
    ]
    if not prev.totals and answer.totals:
        lines.append(f"vs {prev.period.describe()}: no spend")
    return lines


def rate(answer: Answer) -> str:
    """ "/h" where the amounts are money per hour (the idle GPUs now), else ""."""
    return "/h" if answer.per_hour else ""


def amount(answer: Answer, value: float, currency: str) -> str:
    """A row's or a total's number in the answer's unit: money (per hour), or GPU-hours;
    signed where the rows are changes."""
    sign = "+" if answer.changes and round(value, 2) > 0 else ""
    return sign + format_value(value, currency, answer.unit) + rate(answer)


def row_value(answer: Answer, row) -> float:
    return (row.quantity or 0.0) if answer.unit == "gpu_hours" else row.cost


def row_amount(answer: Answer, row) -> str:
    """A row's number as its unit says: money, GPU-hours, a quantity in the row's own unit
    (its cost beside it), or money per the row's unit (over how many)."""
    if answer.unit == "quantity" and row.unit:
        text = f"{row.quantity or 0.0:,.2f} {row.unit}"
        if row.previous_quantity is not None:
            text += f" (before {row.previous_quantity:,.2f})"
        return text + (f" · {format_money(row.cost, row.currency)}" if row.cost else "")
    if answer.unit == "money_per_unit" and row.unit:
        quantity = row.quantity or 0.0
        return (
            f"{format_money(row.cost, row.currency, unit_price=True)}/{row.unit} · "
            f"{format_money(row.cost * quantity, row.currency)} over {_units(quantity, row.unit)}"
        )
    return amount(answer, row_value(answer, row), row.currency)


_PLURAL = {"step": "steps", "GPU-hour": "GPU-hours", "hour": "hours"}


def _units(quantity: float, unit: str) -> str:
    """'590 steps' for 0.59 of "1k steps", '16 GPU-hours', '2.50 Hrs'."""
    if m := re.fullmatch(r"(\d{1,3}(?:,\d{3})*)(k?) (\S.*)", unit):
        quantity *= int(m[1].replace(",", "")) * (1000 if m[2] else 1)
        unit = m[3]
    if quantity != 1:
        unit = _PLURAL.get(unit, unit)
    return f"{quantity:,.0f} {unit}" if quantity == round(quantity) else f"{quantity:,.2f} {unit}"


def hours_total(answer: Answer) -> str | None:
    """'1,234.5 GPU-hours' for an answer counted in hours (no currency), else None."""
    if answer.unit != "gpu_hours" or answer.quantity is None:
        return None
    return f"{answer.quantity:,.1f} GPU-hours"


def nothing_line(answer: Answer, span: str = "this period") -> str:
    """What an answer without totals says."""
    return answer.nothing or f"No spend in {span}."


def top_line(answer: Answer) -> str | None:
    """'top 5: $X of $Y' for a ranking, per currency."""
    if answer.rows_totals is None or not answer.more_rows:
        return None
    parts = [
        f"top {len([r for r in answer.rows if r.currency == c])}: "
        f"{format_money(shown, c)} of {format_money(answer.totals.get(c, 0.0), c)}"
        for c, shown in answer.rows_totals.items()
    ]
    return "; ".join(parts) or None


def _stamp(text: str | None) -> str:
    return (text or "").replace("T", " ").replace("+00:00", " UTC")


def freshness_lines(answer: Answer) -> list[str]:
    """How fresh the numbers are: heartbeats, or charge days per provider (one line each
    when the providers' dates differ)."""
    if answer.fresh_from == "heartbeats":
        if not answer.loaded_at:
            return ["No heartbeats received yet."]
        return [f"Heartbeats through {_stamp(answer.loaded_at)}."]
    if not answer.data_through:
        return ["No billing data loaded."]
    days = {f.data_through for f in answer.freshness}
    if len(days) > 1:
        return [
            f"{f.provider}: data through {f.data_through} ({f.source}, loaded "
            f"{_stamp(f.loaded_at)})."
            for f in answer.freshness
        ]
    return [f"Data through {answer.data_through} (loaded {_stamp(answer.loaded_at)})."]


def freshness_line(answer: Answer) -> str:
    return " ".join(freshness_lines(answer))


def measure_line(answer: Answer) -> str:
    if answer.measure is None:
        return f"Basis: {answer.basis}" if answer.basis else ""
    return f"Measure: {MEASURE_WORDS.get(answer.measure, answer.measure)}"


def scope_line(answer: Answer) -> str:
    """The access scope that limited an answer ([access] mode = "scoped")."""
    return (
        f"Scope: {answer.scope} (what the access policy lets this audience see)"
        if answer.scope
        else ""
    )


def _numberless(answer: Answer) -> list[str]:
    lines = [answer.message or answer.title]
    if answer.rows:
        width = max(len(r.key) for r in answer.rows)
        lines += [
            f"  {r.key:<{width}}  {format_money(r.cost, r.currency):>14}" for r in answer.rows
        ]
    if answer.suggestions:
        lines.append("")
        lines.append("Known names like it:" if answer.did_you_mean else "Try:")
        shown = answer.did_you_mean if answer.did_you_mean else answer.suggestions
        lines.extend(f"  {s}" for s in shown)
        if answer.did_you_mean:
            lines.append("Ask: " + " · ".join(answer.suggestions))
    if answer.data_through and answer.kind != "help":
        lines.extend(freshness_lines(answer))
    return lines


def render_text(answer: Answer) -> str:
    if not answer.has_number:
        return "\n".join(_numberless(answer))
    lines: list[str] = []
    lines.append(full_title(answer) if answer.period else answer.title)
    if hours := hours_total(answer):
        lines.append(f"  {hours}")
    elif not (answer.totals or answer.rows or answer.budgets or answer.rates):  # side by side (rows
        lines.append(f"  {nothing_line(answer)}")  # only) or budgets: no "no spend"
    for currency, total in answer.totals.items():
        lines.append(f"  {format_money(total, currency)}{rate(answer)}")
    lines.extend(f"  {line}" for line in outlook_lines(answer))
    if top := top_line(answer):
        lines.append(f"  {top}")
    lines.extend(f"  {line}" for line in comparison_lines(answer))
    if is_series(answer):
        lines.append("")
        lines.extend(f"  {line}" for line in spark_lines(answer))
    if answer.rows:
        lines.append("")
        width = max(len(r.key) for r in answer.rows)
        for r in answer.rows:
            value = row_amount(answer, r)
            line = f"  {r.key:<{width}}  {value:>14}"
            if r.previous_cost is not None:
                line += f"   before {format_money(r.previous_cost, r.currency):>12}"
                line += f"  {format_change(r.cost, r.previous_cost)}"
            lines.append(line)
        if answer.more_rows:
            lines.append(f"  … and {answer.more_rows} more")
    lines.append("")
    lines.extend(answer.notes)
    measure = measure_line(answer)
    currencies = ", ".join(answer.totals)
    tail = ""
    if currencies:
        tail = f"Currency: {currencies}" + (
            " (never added together)." if len(answer.totals) > 1 else "."
        )
    lines.append(" ".join(x for x in ((f"{measure}." if measure else ""), tail) if x))
    if answer.scope:
        lines.append(scope_line(answer) + ".")
    lines.extend(freshness_lines(answer))
    if answer.suggestions:
        lines.append("Next: " + " · ".join(answer.suggestions))
    return "\n".join(lines)
