"""What an answer says about the days its data covers: a period the data does not reach,
a comparison period before the data, a period the data ends inside."""

from __future__ import annotations

from datetime import date

from finops_bot.questions.answer import Answer
from finops_bot.questions.periods import Period
from finops_bot.questions.words import counted


def replace_name(question: str, name: str, suggestion: str) -> str:
    lowered = question.lower()
    at = lowered.find(name.lower())
    if at < 0:
        return suggestion
    return question[:at] + suggestion + question[at + len(name) :]


def coverage(answer: Answer, period: Period, first: str | None, last: str | None) -> None:
    """A period the data does not reach (a Monday's "this week", the 1st's "this month", a
    month before the data starts) shows no comparison and no "-100%" or "new" rows, and says
    which days the data covers; a comparison period before the data is dropped."""
    start, end = (date.fromisoformat(d) if d else None for d in (first, last))
    if start is None or end is None:
        return
    if period.start > end or period.end < start:
        answer.previous, answer.rows, answer.more_rows = None, [], 0
        gap = (period.start - end).days if period.start > end else 0
        answer.nothing = (
            f"Nothing is known about this period yet: the data ends on {end}"
            + (" (billing data lags a day or two)." if gap <= 3 else f", {gap} days before it.")
            if gap
            else f"No data for this period: the data starts on {start}."
        )
        answer.notes = [n for n in answer.notes if "nothing is known" not in n]
        if answer.period and answer.period.label.startswith(("this ", "today")):
            earlier = answer.period.label.replace("this ", "last ").replace("today", "yesterday")
            subject = " ".join(f"{d} {n}" for d, n in answer.filters.items()) or "total spend"
            answer.suggestions = [f"{subject} {earlier}"]
        return
    before = answer.previous.period if answer.previous else None
    if before is not None and before.start < start:  # the data starts after it, or inside it
        answer.previous = None
        answer.rows = [r for r in answer.rows if r.cost]
        for r in answer.rows:
            r.previous_cost = None
        where = "after" if before.end < start else "inside"
        answer.notes.append(f"No comparison: the data starts on {start}, {where} {before.label}.")


def partial_notes(period: Period, last: str | None) -> list[str]:
    if not last:
        return []
    end = date.fromisoformat(last)
    if period.start > end:
        return [f"The data ends on {last}: nothing is known about this period yet."]
    if period.end > end:
        missing = (period.end - end).days
        return [
            f"Partial: the data ends on {last}, {counted(missing, 'day')} before the period does "
            "(providers publish with a delay)."
        ]
    return []
