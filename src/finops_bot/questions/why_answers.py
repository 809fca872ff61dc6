"""Why a cost moved, and the anomalies detection stored.

"why": a subject's usage (ChargeCategory Usage) against the period before, like for like,
decomposed by project, service, account, region, resource and pricing category with the
anomalies' own read (anomalies.explain.contributions): each value's change, whose sum per
dimension is the total change to the cent. "anomalies": the alerts a detection run stored
(``python -m bot anomalies`` or serve), read from the store only, never detected here.

Both read through the access view: the decomposition inside the subject's (scoped) filter;
an anomaly is shown only when its subject is wholly inside the scope (one on a service, a
region or a category, which spans everybody's spend, is left out of a scoped answer)."""

from __future__ import annotations

from datetime import date, timedelta

from finops_bot.anomalies.explain import contributions
from finops_bot.money import format_money
from finops_bot.questions.answer import Answer, Comparison, Row
from finops_bot.questions.cost_answers import (
    DIM_LABELS,
    PRICING_LABELS,
    USAGE,
    Ctx,
    Subject,
    like_for_like,
    merge_rows,
)
from finops_bot.questions.names import rank_key
from finops_bot.questions.parse import Query
from finops_bot.questions.periods import Period
from finops_bot.questions.scoping import View
from finops_bot.questions.words import counted
from finops_bot.store import reads
from finops_bot.store.anomalies import StoredAnomaly, stored
from finops_bot.store.reads import Where

KINDS = ("why", "anomalies")
WHY_DIMENSIONS = ("project", "service", "account", "region", "resource", "pricing")
PER_DIMENSION = 2  # rows per dimension (every value is in that dimension's note)
LATEST_DAYS = 7
ANOMALY_ROWS = 10
ANOMALY_NOTES = 5
ANOMALY_LINKS = 3  # stored anomalies a "why" answer names
RECENT_DAYS = 30  # no period given: the latest anomaly this far back is named
HIDDEN = ("withdrawn", "not_anomaly")  # no longer found, or a person said it is none
KIND_WORDS = {"spike": "spike", "level_shift": "level shift", "drift": "drift"}
DETECTION = "`python -m bot anomalies` or serve"


def latest_week(today: date, data_through: str | None) -> tuple[Period, list[str]]:
    """No period given: the last 7 full days, or the latest 7 days of data when the data
    ends before yesterday."""
    yesterday = today - timedelta(days=1)
    last = min(date.fromisoformat(data_through), yesterday) if data_through else yesterday
    start = last - timedelta(days=LATEST_DAYS - 1)
    if last == yesterday:
        return Period(start, last, "the last 7 days", "days"), [
            "No period given: the last 7 days, against the 7 before."
        ]
    return Period(start, last, "the latest 7 days of data", "days"), [
        f"No period given: the latest 7 days of data (it ends on {last}), against the 7 before."
    ]


def decompose(
    ctx: Ctx,
    where: Where,
    period: Period,
    before: Period,
    currency: str,
    dims: tuple[str, ...] = WHY_DIMENSIONS,
) -> dict[str, list[Row]]:
    """Per dimension, every value's usage over ``period`` (``cost``) and ``before``
    (``previous_cost``) in one currency, spellings merged as rankings merge them, largest
    change first. Each dimension's changes add up to the subject's total change."""
    out: dict[str, list[Row]] = {}
    for dim in dims:
        now, then = contributions(
            ctx.db,
            where,
            dim,
            (period.start, period.end),
            (before.start, before.end),
            ctx.measure,
            currency,
        )
        if now or then:
            out[dim] = merge_rows(ctx.names, dim, _triples(now, currency), _triples(then, currency))
    return out


def _triples(values: dict[str, float], currency: str) -> list[tuple[str, str, float]]:
    return [(value, currency, total) for value, total in values.items()]


def why_answer(
    ctx: Ctx,
    q: Query,
    view: View,
    subject: Subject,
    period: Period,
    before: Period,
    last: str | None,
) -> Answer:
    """What changed between ``before`` and ``period``, and who changed it."""
    if subject.dim.startswith("tag:"):
        return _not_for_tags(ctx, subject, period)
    before, clipped = like_for_like(period, before, date.fromisoformat(last) if last else None)
    if clipped:
        ctx.notes.append(
            f"Compared like for like: the data ends on {last}, so the earlier period is cut "
            f"to the same {counted(clipped, 'day')}."
        )
    db, m, where = ctx.db, ctx.measure, subject.where
    now = reads.totals(db, where, period.start, period.end, m, USAGE)
    then = reads.totals(db, where, before.start, before.end, m, USAGE)
    answer = ctx.answer(
        where,
        USAGE,
        kind="why",
        title=f"{subject.title}: what changed",
        period=period,
        filters=subject.filters,
        changes=True,
        suggestions=_why_suggestions(subject, period),
    )
    answer.previous = Comparison(before, {})
    currencies = sorted({*now, *then}, key=lambda c: -max(abs(now.get(c, 0)), abs(then.get(c, 0))))
    if not currencies:
        answer.nothing = f"No usage charges in {period.label} or {before.label}: nothing moved."
        return answer
    currency = currencies[0]
    answer.totals = {currency: now.get(currency, 0.0)}
    answer.previous = Comparison(before, {currency: then.get(currency, 0.0)})
    change = answer.totals[currency] - answer.previous.totals[currency]
    first, _ = reads.data_span(db)
    if first and before.start < date.fromisoformat(first):
        return answer  # no comparison to decompose (coverage says why)
    notes = [_other_charges(ctx, where, period, before, currency, change)]
    notes += _currencies(currencies, now, then, currency)
    notes += _direction(q.by, change, currency, before)
    dims = tuple(d for d in WHY_DIMENSIONS if d != subject.dim)
    parts = decompose(ctx, where, period, before, currency, dims)
    rows, shares, more = _contributors(parts, change, currency)
    answer.rows, answer.more_rows = rows, more
    notes += _links(ctx, q, view, subject, period, answer)
    answer.notes = [*answer.notes[:-1], *notes, answer.notes[-1], *shares]
    return answer


def _links(
    ctx: Ctx, q: Query, view: View, subject: Subject, period: Period, answer: Answer
) -> list[str]:
    """The stored anomalies the change belongs to; with no period given and none in it,
    the latest of the 30 days before, asked about first in the suggestions."""
    links = related_alerts(ctx, view, subject, period.start, period.end)[:ANOMALY_LINKS]
    if links or q.period_given:
        return [_link(ctx, a) for a in links]
    since = period.end - timedelta(days=RECENT_DAYS - 1)
    recent = related_alerts(ctx, view, subject, since, period.end)[:1]
    if not recent:
        return []
    answer.suggestions.insert(0, _why_question(recent[0]))
    return [f"No stored anomaly overlaps {period.label}; the latest of the last {RECENT_DAYS} "
            f"days: {_link(ctx, recent[0])}"]  # fmt: skip


def _contributors(
    parts: dict[str, list[Row]], change: float, currency: str
) -> tuple[list[Row], list[str], int]:
    """The top values of each dimension as rows (cost: the change), a note per dimension
    with every value's share of the total change, and how many rows were left out."""
    rows: list[Row] = []
    shares: list[str] = []
    more = 0
    for dim, merged in parts.items():
        moved = [(r.key, r.cost - (r.previous_cost or 0.0)) for r in merged]
        moved = [(key, delta) for key, delta in moved if round(delta, 2)]
        if not moved:
            continue
        top, rest = moved[:PER_DIMENSION], moved[PER_DIMENSION:]
        rows += [Row(f"{DIM_LABELS[dim]} {key}", delta, currency) for key, delta in top]
        more += len(rest)
        listed = [f"{key} {_signed(delta, currency)}{_pct(delta, change)}" for key, delta in top]
        if rest:
            others = sum(delta for _, delta in rest)
            listed.append(
                f"{counted(len(rest), 'other')} {_signed(others, currency)}{_pct(others, change)}"
            )
        shares.append(f"By {DIM_LABELS[dim]}: {', '.join(listed)}.")
    return rows, shares, more


def _signed(value: float, currency: str) -> str:
    return ("+" if round(value, 2) > 0 else "") + format_money(value, currency)


def _pct(part: float, whole: float) -> str:
    return f" ({part / whole * 100:.1f}%)" if round(whole, 2) else ""


def _other_charges(
    ctx: Ctx, where: Where, period: Period, before: Period, currency: str, change: float
) -> str:
    """Usage only, and what the other charge categories did meanwhile."""
    everything = [
        reads.totals(ctx.db, where, p.start, p.end, ctx.measure).get(currency, 0.0)
        for p in (period, before)
    ]
    other = everything[0] - everything[1] - change
    said = "Usage charges only (ChargeCategory Usage): purchases, taxes and credits are no usage"
    if not round(other, 2):
        return f"{said}; they did not change."
    return (
        f"{said}; they changed by {_signed(other, currency)} as well, not decomposed here (all "
        f"charges: {format_money(everything[0], currency)} against "
        f"{format_money(everything[1], currency)})."
    )


def _currencies(currencies: list[str], now: dict, then: dict, shown: str) -> list[str]:
    if len(currencies) == 1:
        return []
    others = "; ".join(
        f"{c}: {format_money(now.get(c, 0.0), c)} against {format_money(then.get(c, 0.0), c)}"
        for c in currencies
        if c != shown
    )
    return [
        f"Several currencies: this explains the {shown} spend only (currencies are never "
        f"added together). {others}."
    ]


def _direction(asked: str | None, change: float, currency: str, before: Period) -> list[str]:
    if not round(change, 2):
        return [f"Usage did not change against {before.label} (to the cent)."]
    went = "up" if change > 0 else "down"
    if asked and asked != went:
        return [f"It went {went}, not {asked}: {_signed(change, currency)} against {before.label}."]
    return []


def _not_for_tags(ctx: Ctx, subject: Subject, period: Period) -> Answer:
    return Answer(
        **{**ctx.base, "measure": None},
        kind="error",
        title="Not for tags",
        period=period,
        message=f"“why” and anomalies are answered for projects, teams, owners, services, "
        f"accounts, providers and regions, not for {subject.title.lower()} (a tag read from "
        "the facts).",
        notes=list(ctx.notes),
    )


def _why_suggestions(subject: Subject, period: Period) -> list[str]:
    if subject.dim == "*":
        return [f"what grew the most {period.phrase}", f"anomalies {period.phrase}"]
    about = _about_words(subject)
    return [f"anomalies for {about} {period.phrase}", f"{about} trend"]


def _about_words(subject: Subject) -> str:
    """The subject as a question names it ("project llm-finetune", "gpu spend")."""
    if subject.key == "*":
        return f"{subject.dim} spend"
    return f"{subject.dim} {subject.key or subject.label}"


def related_alerts(
    ctx: Ctx, view: View, subject: Subject, start: date, end: date
) -> list[StoredAnomaly]:
    """The stored alerts (no ``part_of``, no purchases, neither withdrawn nor marked
    not_anomaly) overlapping [start, end] that concern the subject: on it, on something
    wholly inside it, or one its own anomaly is part of; only those the view may see.
    Largest impact first."""
    found = [
        a
        for a in stored(ctx.db, measure=ctx.measure, since=start, until=end)
        if a.status not in HIDDEN and a.detected_on <= end.isoformat()  # known by then
    ]
    by_id = {a.id: a for a in found}
    alerts: dict[str, StoredAnomaly] = {}
    for a in found:
        alert = by_id.get(a.part_of) if a.part_of else a
        if alert is None or alert.part_of or alert.kind == "purchase" or alert.id in alerts:
            continue
        if _concerns(ctx, subject, a) and view.sees(ctx.db, alert.dim, alert.key):
            alerts[alert.id] = alert
    return sorted(alerts.values(), key=lambda a: (-a.impact, a.id))


def _concerns(ctx: Ctx, subject: Subject, a: StoredAnomaly) -> bool:
    if subject.dim == "*":
        return True
    if a.dim == subject.dim:
        keys = {rank_key(d, k) for d, values in subject.where.terms if d == a.dim for k in values}
        return rank_key(a.dim, a.key) in keys
    inside = (Where(subject.where.terms),)
    return not reads.outside(ctx.db, Where.of({a.dim: [a.key]}), inside)


def anomalies_answer(ctx: Ctx, view: View, subject: Subject, period: Period) -> Answer:
    """The stored alerts overlapping the period (of the subject, if one is named)."""
    if subject.dim.startswith("tag:"):
        return _not_for_tags(ctx, subject, period)
    count, last_run = _store_state(ctx)
    alerts = related_alerts(ctx, view, subject, period.start, period.end)
    rows = [Row(_anomaly_key(ctx, a), a.impact, a.currency) for a in alerts]
    about = "" if subject.dim == "*" else f" · {subject.title}"
    answer = Answer(
        **ctx.base,
        kind="anomalies",
        title=f"Anomalies{about}",
        period=period,
        filters=subject.filters,
        rows=rows[:ANOMALY_ROWS],
        more_rows=max(len(rows) - ANOMALY_ROWS, 0),
        changes=True,
        scope=ctx.scope,
        notes=list(ctx.notes),
    )
    answer.notes += [_detail(ctx, a) for a in alerts[:ANOMALY_NOTES]]
    if count:
        answer.notes.append(
            f"Alerts as stored by the last detection run ({last_run}): impact is actual less "
            "expected usage on the day each was detected; withdrawn ones and those marked "
            "not an anomaly are left out."
        )
    if ctx.scope:
        answer.notes.append(
            f"Within the access scope ({ctx.scope}): only anomalies of a project, team, owner, "
            "provider or account wholly inside it."
        )
    if not count:
        answer.nothing = (
            f"No anomalies are stored yet: detection stores them (run {DETECTION}); this "
            "question only reads what it stored."
        )
    elif not alerts:
        answer.nothing = f"No anomalies{about.replace(' · ', ' of ')} overlap {period.label}."
    answer.suggestions = _anomaly_suggestions(alerts, period)
    return answer


def _store_state(ctx: Ctx) -> tuple[int, str | None]:
    """How many anomalies of the measure are stored, and when the store last changed."""
    count, last = ctx.db.execute(
        "SELECT COUNT(*), MAX(updated_at) FROM anomalies WHERE measure = ?", (ctx.measure,)
    ).fetchone()
    return count, (last or "").replace("T", " ").replace("+00:00", " UTC") or None


def _anomaly_key(ctx: Ctx, a: StoredAnomaly) -> str:
    what = KIND_WORDS.get(a.kind, a.kind)
    return f"{DIM_LABELS[a.dim]} {ctx.names.label(a.dim, [a.key])} · {what} since {a.start}"


def _detail(ctx: Ctx, a: StoredAnomaly) -> str:
    """One anomaly in a line: status, the day it alerted, to date, and its top cause."""
    money = lambda x: format_money(x, a.currency)  # noqa: E731
    days = a.start if a.last_day == a.start else f"{a.start} … {a.last_day}"
    line = (
        f"{_anomaly_key(ctx, a)} [{a.id}]: {a.status}; {money(a.actual)} against "
        f"{money(a.expected)} expected on {a.detected_on}; "
        f"{_signed(a.actual_to_date - a.expected_to_date, a.currency)} over {days}."
    )
    if a.root_cause:
        cause = a.root_cause[0]
        share = f" ({cause['share'] * 100:.0f}% of it)" if cause.get("share") is not None else ""
        value = _value_label(ctx, cause["dimension"], cause["value"])
        line += f" Top cause: {cause['dimension']} {value} {_signed(cause['impact'], a.currency)}"
        line += f"{share}."
    return line


def _value_label(ctx: Ctx, dim: str, value: str) -> str:
    if dim == "pricing":
        return PRICING_LABELS.get(value, value)
    return ctx.names.label(dim, [value]) if dim in ("service", "account") else value


def _link(ctx: Ctx, a: StoredAnomaly) -> str:
    what = KIND_WORDS.get(a.kind, a.kind)
    label = f"{DIM_LABELS[a.dim]} {ctx.names.label(a.dim, [a.key])}"
    return (
        f"Stored anomaly {a.id}: a {what} of {label} since {a.start} ({a.status}; "
        f"{_signed(a.impact, a.currency)} on {a.detected_on}, the day it was detected)."
    )


def _anomaly_suggestions(alerts: list[StoredAnomaly], period: Period) -> list[str]:
    if not alerts:
        return [] if period.days >= 30 else ["anomalies last 30 days"]
    a = alerts[0]
    return [_why_question(a), f"{a.dim} {a.key} trend"]


def _why_question(a: StoredAnomaly) -> str:
    days = f"on {a.start}" if a.start == a.last_day else f"between {a.start} and {a.last_day}"
    return f"why did {a.dim} {a.key} go {'up' if a.impact >= 0 else 'down'} {days}"
