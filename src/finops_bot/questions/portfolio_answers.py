"""Portfolio advice for GPU compute: "what should we commit to", "commitment advice for
p4d", "should we buy a savings plan for gpus", "what should we move to spot".

A range and its assumptions, never a purchase: per instance family the steady baseline
(P10 of hourly instance counts), what a 1- or 3-year commitment on it would save at the
dated published discounts, what moving the resumable work above it to Spot would save, and
the on-demand remainder (gpu.portfolio). The organisation's commitments: the engine refuses
scoped audiences before this module is called.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlite_utils import Database

from finops_bot.access import Scope
from finops_bot.days import day_iso, day_number
from finops_bot.gpu.commitment_prices import DISCOUNTS, TABLE_AS_OF
from finops_bot.gpu.fleet import FleetRules
from finops_bot.gpu.portfolio import (
    MAX_DAYS,
    MIN_DAYS,
    MIN_HOURLY_DAYS,
    MONTH_HOURS,
    PERCENTILE,
    Advice,
    Window,
    advise,
    gather,
)
from finops_bot.gpu.prices import PriceBook
from finops_bot.money import format_money
from finops_bot.questions.answer import Answer, Fresh, Row
from finops_bot.questions.parse import Query
from finops_bot.questions.periods import Period
from finops_bot.store import instance_hours, reads

_BUY = r"(?:buy|purchase|get|take|sign up for|commit to)"
_PLAN = (
    r"(?:savings? ?plans?|sps?|reserved instances?|reservations?|ris?|cuds?"
    r"|committed use(?: discounts?)?|commitments?)"
)
_FORMS = re.compile(
    r"\bwhat (?:should|could|can) (?:we|i) (?:commit|reserve)\b"
    r"|\bhow much should (?:we|i) commit\b|\bshould (?:we|i) commit\b"
    r"|\bcommitment (?:advice|recommendations?|plan(?:ning)?|strategy|options?)\b"
    r"|\bportfolio\b"
    rf"|\bshould (?:we|i) {_BUY} (?:a |an |any |more |some )?{_PLAN}"
    rf"|\b(?:recommend|advise|suggest)\w* (?:a |an |any |some )?{_PLAN}"
    rf"|\b{_PLAN} (?:advice|recommendations?)\b"
    r"|\b(?:what|which \w+) (?:should|could|can) (?:we|i) (?:move|put|run|shift) "
    r"(?:to|on|onto) spot"
    r"|\b(?:move|put|shift) (?:\w+ ){0,3}(?:to|onto) spot\b|\bspot (?:advice|recommendations?)\b"
)
_NOISE = re.compile(
    rf"{_FORMS.pattern}|\b(?:for|our|the|gpus?|gpu compute|compute|instances?|family|families"
    r"|advice|recommendations?|to|on|in|we|what|should|a|an|of|with|and)\b"
)
TITLE = "GPU commitment and Spot advice"


def portfolio_form(text: str, dims: dict, common: dict, subject) -> Query | None:
    """The query when ``text`` asks for commitment or Spot advice, else None; ``detail``:
    the instance family asked ("p4d", "a2", "nd"), if one."""
    if "pricingmix" in text or not _FORMS.search(text):
        return None
    rest = _NOISE.sub(" ", text).split()
    family = next((w for w in rest if re.fullmatch(r"[a-z]{1,3}\d[a-z0-9]*(?:[.-]\S+)?", w)), None)
    return Query(kind="portfolio", detail=family, **common)


def portfolio_answer(
    db: Database,
    q: Query,
    question: str,
    today: date,
    now: datetime,
    prices: PriceBook,
    fleet_rules: FleetRules,
    scope: Scope | None,
) -> Answer:
    """The advice per family, as a money answer of monthly savings (low ends), with every
    range and assumption in its notes."""
    answer = _base(db, question)
    if scope is not None and not scope.everything:
        answer.kind, answer.unit = "refused", None
        answer.message = "Commitment advice is the organisation's: admins only."
        return answer
    window, notes = _window(db, q, today)
    if window is None:
        answer.nothing = notes[0]
        answer.notes = notes[1:]
        return answer
    answer.period = Period(
        date.fromisoformat(day_iso(window.first)),
        date.fromisoformat(day_iso(window.last)),
        f"the {window.days} days to {day_iso(window.last)}",
    )
    families = gather(db, prices.with_catalog(db), window)
    advice = [advise(u) for u in families.values() if _asked(q, u)]
    advice = [a for a in advice if a.usage.rate and a.usage.currency]
    advice.sort(key=lambda a: (-a.monthly_cost, a.usage.family))
    if not advice:
        answer.nothing = _none_found(q, families, window)
        answer.notes = notes
        return answer
    rows = [row for a in advice for row in _rows(a)]
    answer.rows, answer.more_rows = rows[:10], max(0, len(rows) - 10)
    clouds = {a.usage.provider for a in advice}
    answer.notes = [*notes, *(line for a in advice for line in _family_notes(a)), *_table(clouds)]
    if any(a.usage.hourly_source == "heartbeats" for a in advice):
        answer.freshness.append(_heartbeat_fresh(db))
    return answer


def _base(db: Database, question: str) -> Answer:
    _, through = reads.data_span(db)
    loaded_at, _ = reads.loaded(db)
    fresh = [Fresh(f.provider, f.source, f.data_through, f.loaded_at) for f in reads.freshness(db)]
    return Answer(
        question=question,
        kind="portfolio",
        title=TITLE,
        measure=None,
        unit="money",
        data_through=through,
        loaded_at=loaded_at,
        freshness=fresh,
        basis=(
            f"monthly savings ({MONTH_HOURS} hours) at the low end of the published discount "
            f"ranges (table of {TABLE_AS_OF}) on the P{PERCENTILE} of hourly instance counts, "
            "priced at the on-demand rate billing charged; advice, not a purchase"
        ),
    )


def _window(db: Database, q: Query, today: date) -> tuple[Window | None, list[str]]:
    """The days advised on: the last 90 days of data (billing or heartbeats), or the
    period asked inside them; None and why when fewer than 30 days."""
    first, last = reads.data_span(db)
    beat_first, beat_last = instance_hours.heartbeat_span(db)
    starts = [d for d in (first, beat_first and beat_first[:10]) if d]
    ends = [d for d in (last, beat_last and beat_last[:10]) if d]
    if not ends:
        return None, ["No billing data or heartbeats yet: nothing to advise on."]
    lo, hi = day_number(date.fromisoformat(min(starts))), day_number(date.fromisoformat(max(ends)))
    notes = []
    if q.period_given and q.period is not None:
        lo, hi = max(lo, day_number(q.period.start)), min(hi, day_number(q.period.end))
        if hi > day_number(today):
            hi = day_number(today)
    if hi - lo + 1 > MAX_DAYS:
        if q.period_given:
            notes.append(f"Only the last {MAX_DAYS} days of the period asked are used.")
        lo = hi - MAX_DAYS + 1
    days = hi - lo + 1
    if days < MIN_DAYS:
        span = f"{day_iso(lo)} … {day_iso(hi)}" if days > 0 else "none"
        return None, [
            f"Only {max(days, 0)} days of data ({span}); commitment advice needs at least "
            f"{MIN_DAYS} days of usage (90 are best): ask again when there are more."
        ]
    return Window(lo, hi), notes


def _asked(q: Query, a) -> bool:
    if not q.detail:
        return True
    asked = q.detail.lower()
    return a.family.lower().replace(" ", "") == asked.replace(" ", "") or any(
        t.lower().startswith(asked) or t.lower().removeprefix("standard_").startswith(asked)
        for t in a.types
    )


def _none_found(q: Query, families: dict, window: Window) -> str:
    span = f"{day_iso(window.first)} … {day_iso(window.last)}"
    if q.detail and families:
        known = ", ".join(sorted({f for _, f in families}))
        return f"No GPU usage of the family {q.detail} in {span} (families seen: {known})."
    if families:
        return f"No on-demand rate is known for the GPU families used in {span}."
    return f"No GPU instance usage in {span}: nothing to commit to."


def _baseline_words(a: Advice) -> str:
    return f"baseline {a.baseline:.1f} instance{'s' if round(a.baseline, 1) != 1 else ''}"


def _rows(a: Advice) -> list[Row]:
    u, cur = a.usage, a.usage.currency
    label = f"{u.family} ({u.provider})" if u.family[:1].isupper() else u.family
    bound = ", upper bound" if a.upper_bound else ""
    n = f"{a.commit} instance{'s' if a.commit != 1 else ''}"
    rows = [
        Row(f"{label} · commit {n} for {term} ({_baseline_words(a)}{bound})", r.low, cur)
        for term, r in a.savings.items()
        if a.commit > 0  # no steady baseline: nothing to commit, nothing to show
    ]
    if a.spot_savings is not None and u.resumable_share:
        share = f"{u.resumable_share:.0%} of the work resumes"
        rows.append(Row(f"{label} · Spot above the baseline ({share})", a.spot_savings.low, cur))
    rows.append(
        Row(f"{label} · stays on demand (monthly cost, not a saving)", a.on_demand_cost, cur)
    )
    return rows


def _money(value: float, currency: str) -> str:
    return format_money(value, currency)


def _family_notes(a: Advice) -> list[str]:
    u, cur = a.usage, a.usage.currency
    return [
        _source_note(a),
        *_commit_notes(a, cur),
        _spot_note(a, cur),
        f"{u.family}: {_money(u.rate, cur)} per instance-hour on demand ({u.rate_basis}); "
        f"its usage is {_money(a.monthly_cost, cur)} a month at that rate; "
        f"{_money(a.on_demand_cost, cur)} a month stays on demand.",
        *(
            [f"{u.family}: sizes {', '.join(sorted(u.types))} each count as one instance."]
            if len(u.types) > 1
            else []
        ),
    ]


def _source_note(a: Advice) -> str:
    u = a.usage
    if a.upper_bound:
        return (
            f"{u.family}: no hourly data (the billing files are daily and no heartbeats "
            f"cover {MIN_HOURLY_DAYS} days or more): the P{PERCENTILE} of daily averages, "
            f"{a.daily_p10:.1f} instances, is only an UPPER BOUND of the steady baseline (a "
            "nightly trough cannot be seen in daily totals): commit below it."
        )
    hours = len(u.hourly) if u.hourly is not None else 0
    return (
        f"{u.family}: baseline = P{PERCENTILE} of hourly instance counts from "
        f"{u.hourly_source} over {u.hourly_days} days ({hours:,} hours; an hour with no "
        f"usage counts 0): {a.baseline:.1f}; the P{PERCENTILE} of daily averages is "
        f"{a.daily_p10:.1f}, which would over-commit wherever usage dips within a day."
    )


def _commit_notes(a: Advice, cur: str) -> list[str]:
    u = a.usage
    out = []
    if u.committed > 0:
        out.append(
            f"{u.family}: {u.committed:.1f} instances on average already run under a "
            "commitment (billing's Committed usage); the advice is beyond them."
        )
    if a.commit <= 0:
        out.append(f"{u.family}: no whole instance runs steadily: nothing to commit.")
    for term, r in a.savings.items() if a.commit > 0 else ():
        d = a.discounts[term]
        out.append(
            f"{u.family}: committing {a.commit} instance{'s' if a.commit != 1 else ''} for "
            f"{term} saves {_money(r.low, cur)}–{_money(r.high, cur)} a month "
            f"({d.plan}, {d.low:.0%}–{d.high:.0%} off, counting the hours it would sit unused)."
        )
    naive = a.daily_savings.get("1y")
    if not a.upper_bound and naive is not None and int(a.daily_p10) > a.commit:
        out.append(
            f"{u.family}: committing to the daily-average P{PERCENTILE} "
            f"({int(a.daily_p10)} instances) instead would save only {_money(naive, cur)} a "
            "month for 1y at the middle of the range: it would be paid for and idle in the "
            "quiet hours."
        )
    return out


def _spot_note(a: Advice, cur: str) -> str:
    u, d = a.usage, a.spot_discount
    if u.resumable_share is None:
        return (
            f"{u.family}: no heartbeats from its nodes, so which work survives an "
            "interruption is unknown: no Spot advice (install the agent, label "
            "checkpointing jobs labels.checkpoints)."
        )
    nodes = len(u.resumable_nodes)
    if not nodes or a.spot_savings is None or d is None:
        return (
            f"{u.family}: no node showed resumable work (checkpoints label or progress "
            "that survived a restart): nothing advised onto Spot."
        )
    return (
        f"{u.family}: {nodes} node{'s' if nodes != 1 else ''} resume after an interruption "
        f"({u.resumable_share:.0%} of its heartbeat minutes): moving that share of the "
        f"{a.above_hours:,.0f} instance-hours a month above the commitment to {d.plan} at "
        f"{d.low:.0%}–{d.high:.0%} off saves {_money(a.spot_savings.low, cur)}–"
        f"{_money(a.spot_savings.high, cur)} a month (Spot can be reclaimed; capacity varies)."
    )


def _table(clouds: set[str]) -> list[str]:
    """The discount table's rows for the providers advised on, with its date."""
    lines = [
        f"Discount table of {TABLE_AS_OF} (published figures; check the provider's "
        "calculator before buying):"
    ]
    lines += [
        f"  {d.provider}: {d.describe()} — {d.note} ({d.source})"
        for d in DISCOUNTS
        if d.provider in clouds
    ]
    lines.append(
        f"Assumptions: {MONTH_HOURS} hours a month; usage continues as in the window; a "
        "commitment is paid every hour, used or not; 1y and 3y are alternatives (never add "
        "them); Spot is advised only for work that resumes, above the commitment."
    )
    return lines


def _heartbeat_fresh(db: Database) -> Fresh:
    _, last = instance_hours.heartbeat_span(db)
    day = last[:10] if last else None
    return Fresh("fleet", "heartbeats", day, last and (last + ":00"))
