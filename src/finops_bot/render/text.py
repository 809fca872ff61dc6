"""Answer → plain text for a terminal."""

from __future__ import annotations

from finops_bot.money import format_change, format_money
from finops_bot.questions.answer import Answer

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
    """ "/h" where the amounts are dollars per hour (the idle GPUs now), else ""."""
    return "/h" if answer.kind == "idle_gpus" else ""


def nothing_line(answer: Answer, span: str = "this period") -> str:
    """What an answer without totals says."""
    if answer.kind == "idle_gpus":
        return "No idle or stalled GPUs now."
    if answer.kind == "idle_cost":
        return f"No idle GPU time in {span}."
    return f"No spend in {span}."


def freshness_line(answer: Answer) -> str:
    if answer.kind in ("idle_gpus", "idle_cost"):  # from heartbeats, not billing data
        if not answer.loaded_at:
            return "No heartbeats received yet."
        heard = answer.loaded_at.replace("T", " ").replace("+00:00", " UTC")
        return f"Heartbeats through {heard}."
    if not answer.data_through:
        return "No billing data loaded."
    loaded = (answer.loaded_at or "").replace("T", " ").replace("+00:00", " UTC")
    return f"Data through {answer.data_through} (loaded {loaded})."


def render_text(answer: Answer) -> str:
    lines: list[str] = []
    if not answer.has_number:
        lines.append(answer.message or answer.title)
        if answer.suggestions:
            lines.append("")
            lines.append("Try:" if answer.kind != "unknown_name" else "Known names like it:")
            lines.extend(f"  {s}" for s in answer.suggestions)
        if answer.kind in ("unknown_name", "error") and answer.data_through:
            lines.append(freshness_line(answer))
        return "\n".join(lines)

    period = answer.period.describe() if answer.period else ""
    lines.append(f"{answer.title} · {period}" if period else answer.title)
    if not answer.totals:
        lines.append(f"  {nothing_line(answer)}")
    for currency, total in answer.totals.items():
        lines.append(f"  {format_money(total, currency)}{rate(answer)}")
    lines.extend(f"  {line}" for line in comparison_lines(answer))
    if answer.rows:
        lines.append("")
        width = max(len(r.key) for r in answer.rows)
        for r in answer.rows:
            line = f"  {r.key:<{width}}  {format_money(r.cost, r.currency) + rate(answer):>14}"
            if r.previous_cost is not None:
                line += f"   before {format_money(r.previous_cost, r.currency):>12}"
                line += f"  {format_change(r.cost, r.previous_cost)}"
            lines.append(line)
        if answer.more_rows:
            lines.append(f"  … and {answer.more_rows} more")
    lines.append("")
    lines.extend(answer.notes)
    measure = MEASURE_WORDS.get(answer.measure, answer.measure)
    currencies = ", ".join(answer.totals) or "-"
    lines.append(
        f"Measure: {measure}. Currency: {currencies}"
        + (" (never added together)." if len(answer.totals) > 1 else ".")
    )
    lines.append(freshness_line(answer))
    if answer.suggestions:
        lines.append("Next: " + " · ".join(answer.suggestions))
    return "\n".join(lines)
