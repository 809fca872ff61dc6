"""What an answer says about the days its data covers: a period the data does not reach,
a comparison period before the data, a period the data ends inside."""

from __future__ import annotations

from datetime import date

from sqlite_utils import Database

from finops_bot.providers import cloud_of
from finops_bot.questions.answer import Answer, Fresh
from finops_bot.questions.periods import Period
from finops_bot.questions.words import counted
from finops_bot.store import reads
from finops_bot.store.reads import Where


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


def freshness_of(
    db: Database, fresh: list[Fresh], where: Where, since: date, period: Period
) -> tuple[list[Fresh], list[Fresh]]:
    """The freshness of the providers in the answer, and those with no data yet in the
    period (they have spend before it but their data ends before it starts)."""
    entries = list(fresh)
    if not where.everything:
        present = {cloud_of(p) for p in reads.providers_of(db, where, since, period.end)}
        entries = [f for f in entries if cloud_of(f.provider) in present]
    through: dict[str, str] = {}
    for f in entries:
        through[f.provider] = max(through.get(f.provider, ""), f.data_through or "")
    lagging = [
        f
        for f in entries
        if through[f.provider] < period.start.isoformat() and f.data_through == through[f.provider]
    ]
    if not where.plain:  # a scope: one line per provider, no source names (a source
        entries = _per_provider(entries)  # can be named for what lies outside it)
        lagging = [f for f in entries if (f.data_through or "") < period.start.isoformat()]
    return entries, lagging


def _per_provider(entries: list[Fresh]) -> list[Fresh]:
    """One entry per cloud (its spellings and sources together), no source names."""
    latest: dict[str, Fresh] = {}
    for f in entries:
        seen = latest.get(cloud_of(f.provider))
        name = seen.provider if seen else f.provider
        through = max((seen.data_through or "") if seen else "", f.data_through or "")
        loaded = max((seen.loaded_at or "") if seen else "", f.loaded_at or "")
        latest[cloud_of(f.provider)] = Fresh(name, "billing data", through or None, loaded or None)
    return list(latest.values())
