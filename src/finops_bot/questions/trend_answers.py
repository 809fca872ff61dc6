"""Answers over time and across things: a subject's series by day, week or month; what
moved most against the period before; the names a dimension holds, with their cost; two
subjects side by side. All read through store.reads; currencies are never added."""

from __future__ import annotations

from datetime import date, timedelta

from finops_bot.questions.answer import Answer, Comparison, Row
from finops_bot.questions.cost_answers import (
    DIM_LABELS,
    Ctx,
    Subject,
    like_for_like,
    merge_rows,
    plural,
)
from finops_bot.questions.parse import Query
from finops_bot.questions.periods import Period, previous_period
from finops_bot.store import reads

NAMES_ROWS = 50
GRAIN_WORDS = {"day": "Daily", "week": "Weekly", "month": "Monthly"}


def granularity(period: Period, asked: str | None) -> str:
    """Days up to ~6 weeks, weeks up to ~6 months, months beyond (unless asked)."""
    if asked:
        return asked
    return "day" if period.days <= 45 else "week" if period.days <= 190 else "month"


def bucket(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def _buckets(start: date, end: date, grain: str) -> list[date]:
    out, day = [], bucket(start, grain)
    while day <= end:
        out.append(day)
        day = (
            day + timedelta(days=7 if grain == "week" else 1)
            if grain != "month"
            else (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        )
    return out


def series_answer(
    ctx: Ctx, q: Query, subject: Subject, period: Period, last: date | None
) -> Answer:
    """One row per bucket (its start date), zero where the data has no charges; buckets
    after the data ends are left out, not shown as zero."""
    grain = granularity(period, q.granularity)
    raw = reads.series(ctx.db, subject.where, period.start, period.end, ctx.measure)
    sums: dict[tuple[date, str], float] = {}
    for day, currency, total in raw:
        key = (bucket(date.fromisoformat(day), grain), currency)
        sums[key] = sums.get(key, 0.0) + total
    currencies = sorted({c for _, c in sums}) or []
    end = min(period.end, last) if last else period.end
    rows = [
        Row(b.isoformat(), sums.get((b, c), 0.0), c)
        for c in currencies
        for b in _buckets(period.start, end, grain)
    ]
    totals: dict[str, float] = {}
    for r in rows:
        totals[r.currency] = totals.get(r.currency, 0.0) + r.cost
    what = subject.title if subject.dim != "*" or ctx.scope else "all spend"
    answer = ctx.answer(
        subject.where,
        kind="series",
        title=f"{GRAIN_WORDS[grain]} spend · {what}",
        totals=totals,
        rows=rows,
        period=period,
        filters=subject.filters,
        granularity=grain,
    )
    name = subject.key or subject.label
    about = "" if subject.dim == "*" else f" {subject.dim} {name}"
    answer.suggestions = [f"compare{about} {period.phrase}"] if name != "*" else []
    return answer


def movers_answer(ctx: Ctx, q: Query, period: Period, today: date, last: date | None) -> Answer:
    """Which values of a dimension changed most against the period before (like for
    like when the data ends inside the period)."""
    before, _ = like_for_like(period, previous_period(period, today), last)
    dim, rising = q.top_dim or "project", q.by != "down"
    now_rows, then_rows = reads.grouped_pair(
        ctx.db,
        ctx.all,
        dim,
        (period.start, period.end),
        (before.start, before.end),
        ctx.measure,
    )
    rows = merge_rows(ctx.names, dim, now_rows, then_rows)
    change = [r for r in rows if (r.cost - (r.previous_cost or 0.0)) * (1 if rising else -1) > 0]
    change.sort(key=lambda r: -(r.cost - (r.previous_cost or 0.0)) * (1 if rising else -1))
    word = "increases" if rising else "decreases"
    answer = ctx.answer(
        ctx.all,
        kind="movers",
        title=f"Biggest {word} by {DIM_LABELS[dim]}",
        totals=reads.totals(ctx.db, ctx.all, period.start, period.end, ctx.measure),
        rows=change[: q.top_n or 5],
        more_rows=max(len(change) - (q.top_n or 5), 0),
        period=period,
    )
    answer.previous = Comparison(
        before, reads.totals(ctx.db, ctx.all, before.start, before.end, ctx.measure)
    )
    if not change:
        answer.nothing = f"No {DIM_LABELS[dim]} {'grew' if rising else 'shrank'} against "
        answer.nothing += f"{before.label}."
    top = next((r.key for r in change if not r.key.startswith("(")), None)
    if top:
        answer.suggestions = [f"{top} by service {period.phrase}", f"{top} trend"]
    return answer


def names_answer(ctx: Ctx, q: Query, period: Period) -> Answer:
    """Every known value of a dimension, with its cost in the period (zero when none)."""
    dim = q.top_dim or "project"
    raw = reads.grouped(ctx.db, ctx.all, dim, period.start, period.end, ctx.measure)
    rows = [r for r in merge_rows(ctx.names, dim, raw) if not r.key.startswith("(")]
    seen = {r.key for r in rows}
    currency = rows[0].currency if rows else ""
    for value in sorted(ctx.names.values(dim)):
        label = ctx.names.label(dim, [value])
        if label not in seen:
            rows.append(Row(label, 0.0, currency))
            seen.add(label)
    answer = ctx.answer(
        ctx.all,
        kind="names",
        title=f"{plural(dim).capitalize()} ({len(rows)})",
        rows=rows[:NAMES_ROWS],
        more_rows=max(len(rows) - NAMES_ROWS, 0),
        period=period,
    )
    answer.totals = {}
    for r in rows:
        answer.totals[r.currency] = answer.totals.get(r.currency, 0.0) + r.cost
    answer.totals.pop("", None)
    if rows:
        answer.suggestions = [f"top 5 {plural(dim)} {period.phrase}", f"{rows[0].key} trend"]
    return answer


def compare_subjects_answer(ctx: Ctx, subjects: tuple[Subject, Subject], period: Period) -> Answer:
    """Two subjects over one period, side by side (never added together)."""
    rows, empty = [], []
    for subject in subjects:
        if subject.dim.startswith("tag:"):  # a tag value: read from the facts
            key = subject.dim.removeprefix("tag:")
            totals = reads.tag_totals(
                ctx.db, key, subject.label, period.start, period.end, ctx.measure, where=ctx.all
            )
        else:
            totals = reads.totals(ctx.db, subject.where, period.start, period.end, ctx.measure)
        rows += [Row(subject.title, total, c) for c, total in totals.items()]
        if not totals:  # no row in a currency it never had
            empty.append(f"{subject.title}: no spend in this period.")
    a, b = subjects
    answer = ctx.answer(
        ctx.all,
        kind="compare_subjects",
        title=f"{a.title} vs {b.title}",
        rows=rows,
        period=period,
    )
    answer.notes = [n for n in answer.notes if not n.startswith("Summed:")]
    answer.notes.append(
        f"Summed: {a.title} and {b.title} separately, {ctx.measure}; nothing added together."
    )
    answer.summed = {}
    answer.notes += empty
    by = {r.key: r for r in rows}
    first, second = by.get(a.title), by.get(b.title)
    if first and second and first.currency == second.currency and second.cost:
        answer.notes.append(f"{a.title} is {first.cost / second.cost:.2f}× {b.title}.")
    answer.suggestions = [
        f"{s.dim} {s.key or s.label} by service {period.phrase}" for s in subjects
    ]
    return answer


def as_hours(answer: Answer) -> Answer:
    """A GPU-hours answer (measure GPUHours): the hours as ``quantity``, no currency."""
    answer.unit = "gpu_hours"
    answer.quantity = answer.totals.pop("", None) if answer.totals else None
    answer.totals = {}
    if answer.previous is not None:  # said in words: renderers compare money, not hours
        before = answer.previous.totals.get("")
        if before and answer.quantity is not None:
            change = (answer.quantity - before) / before * 100
            answer.notes.insert(
                0, f"{answer.previous.period.label}: {before:,.1f} GPU-hours ({change:+.1f}%)."
            )
        answer.previous = None
    for r in answer.rows:
        if r.currency == "":
            r.quantity, r.cost, r.previous_cost = r.cost, 0.0, None
    if answer.quantity is None and not answer.nothing:
        answer.nothing = "No GPU-hours in this period (usage of GPU instances, in hours)."
    return answer


def tag_answer(ctx: Ctx, q: Query, subject: Subject, period: Period, before: Period) -> Answer:
    """A tag key nobody configured as a dimension, read from the facts: a value's cost
    ("tag env prod"), or the spend by the key's values ("by tag env")."""
    key_dim = next(d for d in (subject.dim, q.top_dim, q.by) if d and d.startswith("tag:"))
    key = key_dim.removeprefix("tag:")
    db, m = ctx.db, ctx.measure
    where = ctx.all if subject.dim.startswith("tag:") or subject.dim == "*" else None
    where = where if where is not None else subject.where
    if subject.dim == key_dim:  # one value of the key
        totals = reads.tag_totals(db, key, subject.label, period.start, period.end, m, where=where)
        answer = ctx.answer(
            where, kind="cost", title=f"Tag {key} = {subject.label}", totals=totals, period=period
        )
        answer.previous = Comparison(
            before,
            reads.tag_totals(db, key, subject.label, before.start, before.end, m, where=where),
        )
        answer.summed = {f"Tags.{key}": [subject.label]}
    else:  # by the key's values
        raw = reads.tag_grouped(db, key, period.start, period.end, m, where=where)
        rows = [Row(v or f"(no {key} tag)", c, cur) for v, cur, c in raw]
        title = f"{subject.title} by tag {key}" if subject.dim != "*" else f"Spend by tag {key}"
        answer = ctx.answer(
            where,
            kind="breakdown" if subject.dim != "*" else "top",
            title=title,
            rows=rows[:NAMES_ROWS],
            more_rows=max(len(rows) - NAMES_ROWS, 0),
            totals=reads.totals(db, where, period.start, period.end, m),
            period=period,
        )
        answer.summed = {**answer.summed, f"Tags.{key}": ["(every value)"]}
    answer.notes = [n for n in answer.notes if not n.startswith("Summed:")]
    inside = f", within the access scope ({ctx.scope})" if ctx.scope else ""
    answer.notes.append(
        f"Summed: the charges tagged {key}{inside}, read from the facts (the tag is not a "
        "configured dimension: add it to [allocation] dimensions to make it fast)."
    )
    return answer
