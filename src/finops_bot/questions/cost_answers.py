"""Cost answers from the store's read path: a subject's cost and what moved, rankings,
breakdowns by any other dimension, untagged spend, the pricing mix, and candidates."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlite_utils import Database

from finops_bot.access import SCOPE_DIMS
from finops_bot.questions.answer import Answer, Candidate, Comparison, Row
from finops_bot.questions.names import Candidates, NameIndex, rank_key
from finops_bot.questions.parse import Query
from finops_bot.questions.periods import Period
from finops_bot.questions.suggest import follow_ups
from finops_bot.store import reads
from finops_bot.store.reads import Where

BREAKDOWN_ROWS = 5
PRICING_LABELS = {
    "Standard": "on-demand",
    "Dynamic": "spot",
    "Committed": "committed (RI / savings plan / CUD)",
    "Other": "other",
    "": "not stated",
}


class _Labels(dict):
    """Labels of the built-in dimensions; a configured tag dimension is called by its name."""

    def __missing__(self, key: str) -> str:
        return key.replace("tag:", "tag ")


class _Columns(dict):
    """FOCUS columns of the built-in dimensions; a configured tag dimension is a tag."""

    def __missing__(self, key: str) -> str:
        return f"Tags.{key.removeprefix('tag:')}"


DIM_LABELS = _Labels(
    {
        "project": "project",
        "team": "team",
        "owner": "owner",
        "service": "service",
        "account": "account",
        "provider": "provider",
        "region": "region",
        "category": "service category",
        "pricing": "pricing category",
        "gpu": "GPU model",
        "instance": "instance type",
    }
)
PLURALS = {"category": "service categories", "pricing": "pricing categories"}
# what the cache calls each dimension, as FOCUS names it (allocation columns come from tags)
COLUMNS = _Columns(
    {
        "project": "Tags.project",
        "team": "Tags.team",
        "owner": "Tags.owner",
        "service": "ServiceName",
        "account": "SubAccountId",
        "provider": "ProviderName",
        "region": "RegionId",
        "category": "ServiceCategory",
        "pricing": "PricingCategory",
        "gpu": "GPU model (from the instance type or SKU)",
        "instance": "instance type",
    }
)
USAGE = ("Usage",)


def _initial(label: str) -> str:
    """'GPU model' stays, 'project' → 'Project'."""
    return label[:1].upper() + label[1:]


def plural(dim: str) -> str:
    return PLURALS.get(dim, f"{DIM_LABELS[dim]}s")


@dataclass
class Subject:
    dim: str  # '*' for everything
    label: str
    where: Where
    key: str = ""  # what a question calls it (an account's id, not "name (id)")

    @property
    def title(self) -> str:
        if self.key == "*":  # every value of the dimension ("gpu spend")
            return _initial(self.label)
        if self.dim == "*":
            return "All spend" if self.label == "everything" else f"All spend in {self.label}"
        return f"{_initial(DIM_LABELS[self.dim])} {self.label}"

    @property
    def filters(self) -> dict[str, str]:
        return {} if self.dim == "*" else {self.dim: self.label}


@dataclass
class Ctx:
    """What every cost answer shares: the cache, names, measure and the answer's base."""

    db: Database
    names: NameIndex  # the names inside the access scope
    measure: str
    base: dict
    notes: list[str] = field(default_factory=list)
    all: Where = field(default_factory=Where)  # everything the access scope lets it read
    scope: str | None = None  # the access scope, described; None: not limited

    def answer(self, where: Where, categories: tuple[str, ...] | None = None, **kw) -> Answer:
        summed = {COLUMNS[d]: list(v) for d, v in where.terms}
        if categories:
            summed["ChargeCategory"] = list(categories)
        what = "; ".join(f"{c} = {', '.join(v) or '(empty)'}" for c, v in summed.items())
        inside = f", within the access scope ({self.scope})" if self.scope else ""
        notes = [*self.notes, f"Summed: {what or 'every charge'}{inside}."]
        return Answer(**self.base, notes=notes, summed=summed, scope=self.scope, **kw)


def merge_rows(
    names: NameIndex,
    dim: str,
    rows: list[tuple[str, str, float]],
    before: list[tuple[str, str, float]] | None = None,
) -> list[Row]:
    """Values of ``dim`` that are one thing (spellings, a service's names, a cloud's names)
    become one row, within each currency; largest first."""
    merged: dict[tuple[str, str], list] = {}
    for source, index in ((rows, 1), (before or [], 2)):
        for value, currency, cost in source:
            entry = merged.setdefault((rank_key(dim, value), currency), [[], 0.0, 0.0])
            entry[0].append(value)
            entry[index] += cost
    out = []
    for (_, currency), (keys, now, then) in merged.items():
        out.append(
            Row(_label(names, dim, keys), now, currency, then if before is not None else None)
        )
    key = (lambda r: -abs(r.cost - (r.previous_cost or 0))) if before is not None else None
    return sorted(out, key=key or (lambda r: -r.cost))


def _label(names: NameIndex, dim: str, keys: list[str]) -> str:
    real = [k for k in keys if k]
    if dim == "pricing":
        return PRICING_LABELS.get(real[0] if real else "", real[0] if real else "not stated")
    if not real:
        return "(untagged)" if dim == "project" else f"(no {DIM_LABELS[dim]})"
    return names.label(dim, real)


def _sum(rows: list[Row]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for r in rows:
        totals[r.currency] = totals.get(r.currency, 0.0) + r.cost
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def cost_answer(ctx: Ctx, q: Query, subject: Subject, period: Period, before: Period) -> Answer:
    """One subject's cost (or everything's), against the period before, and what moved."""
    db, m, where = ctx.db, ctx.measure, subject.where
    totals = reads.totals(db, where, period.start, period.end, m)
    kind = "compare" if q.kind == "compare" else ("total" if subject.dim == "*" else "cost")
    answer = ctx.answer(
        where,
        kind=kind,
        title=subject.title,
        totals=totals,
        period=period,
        filters=subject.filters,
    )
    answer.previous = Comparison(before, reads.totals(db, where, before.start, before.end, m))
    now_rows, then_rows = reads.grouped_pair(
        db, where, "service", (period.start, period.end), (before.start, before.end), m
    )
    rows = merge_rows(ctx.names, "service", now_rows, then_rows)
    if q.kind != "compare":
        rows.sort(key=lambda r: -r.cost)
    answer.rows, answer.more_rows = rows[:BREAKDOWN_ROWS], max(len(rows) - BREAKDOWN_ROWS, 0)
    answer.suggestions = follow_ups(
        subject.dim, subject.key or subject.label, period.phrase, compare=q.kind == "compare"
    )
    return answer


def top_answer(ctx: Ctx, q: Query, subject: Subject, period: Period) -> Answer:
    """The top N values of a dimension, of everything or of one subject; ranked within each
    currency, never across."""
    dim, n = q.top_dim or "project", q.top_n or 5
    raw = reads.grouped(ctx.db, subject.where, dim, period.start, period.end, ctx.measure)
    ranked = merge_rows(ctx.names, dim, raw)
    totals = _sum(ranked)
    shown = [r for c in totals for r in [x for x in ranked if x.currency == c][:n]]
    top = f"Top {DIM_LABELS[dim]}" if n == 1 else f"Top {n} {plural(dim)}"
    title = top + ("" if subject.dim == "*" or subject.dim == dim else f" of {subject.title}")
    answer = ctx.answer(
        subject.where,
        kind="top",
        title=title,
        period=period,
        totals=totals,
        filters=subject.filters,
        rows=shown,
        more_rows=max(len(ranked) - len(shown), 0),
        rows_totals=_sum(shown),
    )
    if dim == "project" and ranked:
        top = next((r.key for r in ranked if r.key != "(untagged)"), None)
        if top:
            answer.suggestions = [
                f"{top} by service {period.phrase}",
                f"compare {top} {period.phrase}",
            ]
    if subject.dim == "*":
        answer.suggestions.append(f"untagged spend {period.phrase}")
    else:
        answer.suggestions = follow_ups(subject.dim, subject.key or subject.label, period.phrase)
    return answer


def breakdown_answer(
    ctx: Ctx,
    subject: Subject,
    by: str,
    period: Period,
    *,
    kind: str = "breakdown",
    title: str | None = None,
    categories: tuple[str, ...] | None = None,
) -> Answer:
    """A subject broken down by any other dimension."""
    raw = reads.grouped(
        ctx.db, subject.where, by, period.start, period.end, ctx.measure, categories
    )
    rows = merge_rows(ctx.names, by, raw)
    limit = len(rows) if by == "pricing" else BREAKDOWN_ROWS
    suggestions = [
        s
        for s in follow_ups(subject.dim, subject.key or subject.label, period.phrase)
        if f" by {by} " not in s and not (by == "pricing" and s.startswith("spot vs"))
    ]
    return ctx.answer(
        subject.where,
        categories,
        suggestions=suggestions,
        kind=kind,
        title=title or f"{subject.title} by {DIM_LABELS[by]}",
        period=period,
        filters=subject.filters,
        totals=_sum(rows),
        rows=rows[:limit],
        more_rows=max(len(rows) - limit, 0),
    )


def untagged_answer(ctx: Ctx, period: Period) -> Answer:
    subject = Subject("project", "(untagged)", Where.of({"project": [""]}))
    answer = breakdown_answer(
        ctx, subject, "service", period, kind="untagged", title="Untagged spend (no project tag)"
    )
    answer.filters = {}
    everything = reads.totals(ctx.db, ctx.all, period.start, period.end, ctx.measure)
    for currency, value in answer.totals.items():
        if everything.get(currency):
            share = value / everything[currency] * 100
            answer.notes.append(f"{share:.1f}% of all {currency} spend in the period.")
    answer.suggestions = [f"top 10 projects {period.phrase}"]
    return answer


def pricing_answer(ctx: Ctx, subject: Subject, period: Period) -> Answer:
    """Spot vs on-demand: usage only (purchases, taxes and credits are no pricing choice)."""
    answer = breakdown_answer(
        ctx,
        subject,
        "pricing",
        period,
        kind="pricing",
        title=f"{subject.title}: spot vs on-demand",
        categories=USAGE,
    )
    rows = {r.key: r.cost for r in answer.rows}
    spot, on_demand = rows.get("spot", 0.0), rows.get("on-demand", 0.0)
    answer.notes.insert(0, "Usage charges only (ChargeCategory Usage).")
    if len(answer.totals) == 1 and spot + on_demand:
        answer.notes.append(
            f"Spot is {spot / (spot + on_demand) * 100:.0f}% of spot + on-demand usage."
        )
    return answer


def candidates_answer(ctx: Ctx, q: Query, found: Candidates, period: Period) -> Answer:
    """A name that matches several things: each with its total, and the question to ask."""
    rows, candidates = [], []
    for match in found.matches:
        label = f"{DIM_LABELS[match.dim]} {match.label}"
        where = Where.of({match.dim: match.keys}).inside(ctx.all.within)
        question = _reworded(ctx.base["question"], found.name, match)
        candidates.append(Candidate(match.dim, match.label, question))
        if ctx.scope and match.dim in SCOPE_DIMS and reads.outside(ctx.db, where, ctx.all.within):
            continue  # no partial number: asked on its own, it is refused
        for currency, total in reads.totals(
            ctx.db, where, period.start, period.end, ctx.measure
        ).items():
            rows.append(Row(label, total, currency))
    return Answer(
        **ctx.base,
        kind="candidates",
        title=f"“{found.name}” matches several things",
        period=period,
        rows=rows,
        candidates=candidates,
        suggestions=[c.question for c in candidates],
        message=f"“{found.name}” could mean any of these; which one did you mean? "
        "(Nothing was added together.)",
        notes=list(ctx.notes),
    )


def _reworded(question: str, name: str, match) -> str:
    """The question with the ambiguous name replaced by one candidate, named with its
    dimension ("team nlp")."""
    value = match.label if match.dim == "service" else sorted(match.keys)[0]
    pattern = re.compile(rf"(?:\b(?:{'|'.join(DIM_LABELS)})\s+)?{re.escape(name)}", re.I)
    if pattern.search(question):
        return pattern.sub(f"{match.dim} {value}", question, count=1)
    return f"{match.dim} {value}"


def like_for_like(period: Period, before: Period, last: date | None) -> tuple[Period, int]:
    """When the data stops inside ``period``, cut ``before`` to the same number of days."""
    if last is None or not (period.start <= last < period.end):
        return before, 0
    days = (last - period.start).days + 1
    if days >= before.days:
        return before, 0
    end = before.start + timedelta(days=days - 1)
    label = before.label if "same days" in before.label else f"{before.label}, same days"
    return Period(before.start, end, label, before.kind), days
