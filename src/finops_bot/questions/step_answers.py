"""Unit economics from the heartbeats: "cost per 1k steps for bert-training this week",
"cost per step for job llama-7b last week", "$ per gpu-hour by project".

Rows per job (or project, owner): money per their unit (``money_per_unit``), over how many
units. The steps, GPU-minutes and dollars come from gpu.steps: billed cost where billing
covers a node's day, an estimate at list prices elsewhere, and the notes say how much of
each, where the steps come from and what was left out. Limited to an access scope the way
the other heartbeat answers are (a node's project, owner, provider and account; its
project's team); a named subject with minutes outside the scope is refused, never shown in
part. ``today`` and ``now`` come from the caller.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlite_utils import Database

from finops_bot.access import Scope
from finops_bot.gpu.fleet import FleetRules
from finops_bot.gpu.prices import PRICE_ORDER, PriceBook
from finops_bot.gpu.steps import BILLED, ESTIMATE, Group, StepCosts, step_costs
from finops_bot.money import format_money
from finops_bot.providers import fold
from finops_bot.questions.answer import Answer, Fresh, Row
from finops_bot.questions.gpu_answers import node_filter
from finops_bot.questions.parse import ParseError, Query
from finops_bot.questions.periods import Period
from finops_bot.questions.words import counted
from finops_bot.store import node_costs, reads

SHOWN_ROWS = 10
_PER = r"(?:\bper\b|/)\s*"
_STEPS = re.compile(
    rf"{_PER}(?:(?P<n>\d+(?:[.,]\d+)?k?|a thousand|thousand|one|a|each)\s+)?"
    r"(?:training\s+)?(?P<s>steps?)\b"
    r"|\b(?:training\s+)?step\s+costs?\b|\bcost of (?:a|one|each) (?:training )?step\b"
)
# "$ per gpu-hour": the measure words took "gpu-hour" out, leaving "per" before a
# preposition or at the end ("$ per by project", "cost per for bert-training")
_HOUR = re.compile(rf"{_PER}(?=$|(?:for|by|of|in|on|across|and|per)\b)")
_BY = re.compile(r"\b(?:by|per|for each|each)\s+(?P<by>\w+)")
_BY_WORDS = {"job": "job", "jobs": "job", "project": "project", "projects": "project"}
_BY_WORDS |= {"owner": "owner", "owners": "owner", "user": "owner", "users": "owner"}
_NOISE = re.compile(
    r"\$|\b(?:cost|costs|costing|dollars?|usd|spend|price|prices|rate|what|what's|whats|is|"
    r"are|was|the|our|how|much|does|did|do|it|average|avg|for|of|in|on|we|pay|paid)\b"
)
UNITS = {1: "step", 1000: "1k steps"}


def step_form(text: str, dims: dict, common: dict, subject) -> Query | None:
    """The query when ``text`` asks the cost of a training step or of a GPU-hour, else
    None; ``detail``: the steps a rate is per ("1", "1000"); ``by``: job, project, owner."""
    steps = _STEPS.search(text)
    hours = common.get("measure") == "GPUHours" and _HOUR.search(text)
    if not steps and not hours:
        return None
    match = steps or hours
    rest = text[: match.start()] + " " + text[match.end() :]
    by = None
    if m := _BY.search(rest):
        by = _BY_WORDS.get(m["by"])
        if by is None:
            raise ParseError(
                f"the cost per step or GPU-hour is by job, project or owner, not by {m['by']}"
            )
        rest = rest[: m.start()] + " " + rest[m.end() :]
    dim, name = _subject_of(_NOISE.sub(" ", rest), dims, subject)
    kind = "step_cost" if steps else "gpu_hour_cost"
    common = {**common, "measure": None}
    detail = str(_scale(steps)) if steps else None
    return Query(kind=kind, dim=dim, name=name, by=by, detail=detail, **common)


def _scale(m: re.Match) -> int:
    """The steps a rate is per: 'per step' 1, 'per 1k steps' 1000, 'per 10k steps' 10000."""
    n = (m.groupdict().get("n") or "").replace(",", "")
    if n in ("", "one", "a", "each", "1") and m.groupdict().get("s") == "step":
        return 1
    if n in ("", "thousand", "a thousand"):
        return 1000
    try:
        value = float(n[:-1]) * 1000 if n.endswith("k") else float(n)
    except ValueError:
        return 1000
    return max(1, int(value))


def _subject_of(text: str, dims: dict, subject) -> tuple[str | None, str | None]:
    text = re.sub(r"\s+", " ", text).strip()
    if m := re.fullmatch(r"(?:training\s+)?jobs?\s+(?P<name>\S+)", text):
        return "job", m["name"]
    dim, name = subject(text, dims) if text else (None, None)
    if dim not in (None, "project", "owner"):
        raise ParseError(
            f"the cost per step or GPU-hour is of a job, project or owner, not of a {dim}"
        )
    return dim, name


def step_answer(
    db: Database,
    q: Query,
    question: str,
    today: date,
    now: datetime,
    prices: PriceBook,
    fleet_rules: FleetRules | None,
    scope: Scope | None,
) -> Answer:
    """Cost per step (per job) or per GPU-hour (per job, project or owner) over the
    period asked (no period: this week)."""
    rules = fleet_rules or FleetRules()
    period = q.period or Period(today - timedelta(days=today.weekday()), today, "this week", "week")
    steps = q.kind == "step_cost"
    by, notes = _grouping(q, steps)
    keep = node_filter(db, scope)
    # a name alone, per GPU-hour: a project's, else a job's, else an owner's
    tries = [by, "job", "owner"] if q.name and q.dim is None and not steps else [by]
    unknown = {}
    for by in tries:
        costs = step_costs(db, prices, period.start, period.end, now, rules.retention_days,
                           by, keep)  # fmt: skip
        groups, refusal = _chosen(q, costs, by, expand=steps)
        if not isinstance(groups, str):
            break
        unknown[by] = groups
    groups = unknown.get("job", groups) if isinstance(groups, str) else groups
    answer = _base(db, q, question, period, scope, by)
    answer.notes = notes
    if refusal is not None:
        return _refused(answer, scope, question, refusal)
    if isinstance(groups, str):
        answer.kind, answer.unit, answer.message = "unknown_name", None, groups
        return answer
    rows, shown, left_out = _rows(groups, steps, int(q.detail or 1000), by)
    answer.rows, answer.more_rows = rows[:SHOWN_ROWS], max(0, len(rows) - SHOWN_ROWS)
    answer.notes += _money_notes(shown, costs) + left_out
    answer.notes += _source_notes(shown, costs, steps, by, rules, period)
    answer.nothing = _nothing(q, costs, period, rules)
    _freshness(db, answer, shown)
    return answer


def _grouping(q: Query, steps: bool) -> tuple[str, list[str]]:
    notes = [] if q.period_given else ["No period given: this week."]
    if steps:
        if q.by in ("project", "owner"):
            notes.append(
                f"Steps are per job (a {q.by}'s jobs train different things, so their steps "
                "are never added): one row per job."
            )
        return "job", notes
    if q.name and q.dim in ("project", "owner"):
        return q.dim, notes
    return q.by or ("job" if q.dim == "job" else "project"), notes


def _chosen(q: Query, costs: StepCosts, by: str, expand: bool):
    """(the groups asked, None), (None, why refused), or (a message for an unknown name,
    None). ``expand``: a project's or owner's name stands for its jobs (steps)."""
    groups = list(costs.groups.values())
    if not q.name:
        return groups, None
    wanted = fold(q.name)
    if wanted in {fold(h) for h in costs.hidden if h}:
        return None, "it also has GPUs outside that scope"
    named = [g for g in groups if _is(g.key, wanted) and q.dim in (None, by)]
    if not named and expand and q.dim != "job":  # a project's (or owner's) jobs
        field = "owners" if q.dim == "owner" else "projects"
        named = [g for g in groups if any(_is(v, wanted) for v in getattr(g, field))]
        if not named and q.dim is None:
            named = [g for g in groups if any(_is(v, wanted) for v in g.owners)]
    if named:
        return named, None
    seen = ", ".join(sorted(g.key for g in groups if g.key)[:8]) or "none"
    what = q.dim or "job or project"
    return f"No {what} named {q.name} in the GPU heartbeats ({by}s seen: {seen}).", None


def _is(value: str, wanted: str) -> bool:
    """'alice' is owner alice@acme.ai; names fold as everywhere (bert_training)."""
    folded = fold(value or "")
    return bool(folded) and wanted in (folded, folded.split("@", 1)[0])


def _label(g: Group, by: str) -> str:
    return g.key or f"(no {by})"


def _rows(groups: list[Group], steps: bool, scale: int, by: str):
    """The rows (largest spend first), their groups, and a note for each group that has no
    right rate."""
    rows, shown, notes = [], [], []
    unit = UNITS.get(scale, f"{scale:,} steps") if steps else "GPU-hour"
    for g in sorted(groups, key=lambda g: (-sum(g.money().values()), g.key)):
        money, name = g.money(), _label(g, by)
        if len(g.currencies) > 1:
            notes.append(
                f"{name}: costs in {' and '.join(sorted(g.currencies))}, never added: no rate."
            )
            continue
        if not money:
            notes.append(f"{name}: its nodes have no price (add them under [gpu_prices]): no rate.")
            continue
        (currency,) = g.currencies
        total = sum(money.values())
        if steps:
            if (why := _no_steps(g, name, total, currency)) is not None:
                notes.append(why)
                continue
            quantity = g.steps / scale
        else:
            quantity = (g.gpu_minutes - g.unpriced_minutes) / 60
            if quantity <= 0:
                continue
        rows.append(
            Row(name, cost=total / quantity, currency=currency, quantity=quantity, unit=unit)
        )
        shown.append(g)
    return rows, shown, notes


def _no_steps(g: Group, name: str, total: float, currency: str) -> str | None:
    """Why a job has no cost per step, or None when it has one."""
    spent = format_money(total, currency)
    if not g.key:
        return f"GPU-minutes with no job label ({spent}): in no row (a step is a job's)."
    if g.unpriced_minutes:
        return f"{name}: some of its nodes have no price ({', '.join(sorted(g.nodes))}): no rate."
    if g.steps is None:
        return f"{name}: no node reports a progress counter ({spent} spent): no cost per step."
    if g.steps == 0:
        return f"{name}: its progress counter did not move ({spent} spent): no cost per step."
    return None


def _days(days: set[str]) -> str:
    ordered = sorted(days)
    first, last = (date.fromisoformat(d) for d in (ordered[0], ordered[-1]))
    if first == last:
        return f"{first:%b} {first.day}"
    return f"{first:%b} {first.day}–{last:%b} {last.day}"


def _money_notes(groups: list[Group], costs: StepCosts) -> list[str]:
    """How much was billed and how much estimated, per currency, over which days."""
    totals: dict[tuple[str, str], float] = {}
    node_days: dict[str, set[tuple[str, str]]] = {BILLED: set(), ESTIMATE: set()}
    for g in groups:
        for key, amount in g.money().items():
            totals[key] = totals.get(key, 0.0) + amount
        for p in g.parts:
            if p.amount is not None:
                node_days[p.source].add((p.node, p.day))
    parts = []
    basis = costs.price_basis(groups)
    for source, words in (
        (BILLED, "billed (billing's EffectiveCost of the nodes' instances)"),
        (ESTIMATE, f"estimated (GPU-minutes × list price per GPU; prices: {basis})"),
    ):
        amounts = [format_money(v, c) for (s, c), v in sorted(totals.items()) if s == source]
        if amounts:
            days = {d for _, d in node_days[source]}
            parts.append(
                f"{' + '.join(amounts)} {words}, {counted(len(node_days[source]), 'node-day')} "
                f"({_days(days)})"
            )
    return [f"Dollars: {'; '.join(parts)}."] if parts else []


def _source_notes(groups, costs: StepCosts, steps: bool, by: str, rules, period) -> list[str]:
    notes = []
    if steps:
        restarted = [f"{g.key} ({g.segments})" for g in groups if g.segments > 1]
        notes.append(
            "Steps: each job's progress counter (the agent's FINOPS_PROGRESS), the highest its "
            "nodes report each minute, max − min over the period: never added across nodes. "
            "A counter that goes back (a restart) starts a new segment and the segments add"
            + (f"; segments: {', '.join(restarted)}." if restarted else ".")
        )
        for g in groups:
            if g.no_progress and g.key:
                notes.append(
                    f"{g.key}: {counted(len(g.no_progress), 'node')} without a progress counter "
                    f"({', '.join(sorted(g.no_progress)[:5])}): their GPU-minutes count, the "
                    "steps come from its other nodes."
                )
    elif by == "job" and any(not g.key for g in groups):
        notes.append("(no job): GPU-minutes whose heartbeats carry no job label.")
    for host, (job, minutes) in sorted(costs.fallback.items()):
        notes.append(
            f"{host}: {minutes:,} GPU-minutes without a job label counted under its latest job "
            f"{job} (it reported no other job in the period)."
        )
    if costs.uncovered:
        hosts = sorted({h for h, _ in costs.uncovered})
        notes.append(
            f"Billing covers {_days({d for _, d in costs.uncovered})} but holds no charge "
            f"for {', '.join(hosts[:5])}: estimated."
        )
    if costs.unpriced:
        notes.append(
            f"No price for {', '.join(sorted(costs.unpriced)[:5])}: add under [gpu_prices]."
        )
    if period.start < costs.kept_from:
        notes.append(
            f"Heartbeats are kept {counted(rules.retention_days, 'day')}: before "
            f"{costs.kept_from.isoformat()} nothing is counted."
        )
    if costs.outside:
        notes.append(f"{counted(costs.outside, by)} partly outside the scope: not shown.")
    return notes


def _nothing(q: Query, costs: StepCosts, period: Period, rules: FleetRules) -> str:
    if costs.start is None:
        return (
            f"Heartbeats are kept {counted(rules.retention_days, 'day')}: {period.describe()} "
            f"is before {costs.kept_from.isoformat()}, so nothing can be counted."
        )
    what = "cost per step" if q.kind == "step_cost" else "cost per GPU-hour"
    return f"No {what} to show for {period.describe()}: see the notes."


def _base(db, q: Query, question: str, period: Period, scope: Scope | None, by: str) -> Answer:
    scale = int(q.detail or 1000)
    unit = UNITS.get(scale, f"{scale:,} steps")
    what = f"Cost per {unit}" if q.kind == "step_cost" else "Cost per GPU-hour"
    last = node_costs.last_heartbeat(db)
    return Answer(
        question=question,
        kind=q.kind,
        title=f"{what} · {q.name}" if q.name else f"{what} by {by}",
        period=period,
        filters={q.dim or "job or project": q.name} if q.name else {},
        measure=None,
        unit="money_per_unit",
        loaded_at=last,
        fresh_from="heartbeats",
        freshness=[Fresh("fleet", "heartbeats", None, last)] if last else [],
        basis=(
            "heartbeat progress counters and GPU-minutes; dollars billed (EffectiveCost of "
            "each node's instance) on the days billing covers, else GPU-minutes × the node's "
            f"list price per GPU ({PRICE_ORDER})"
        ),
        scope=scope.shown() if scope is not None else None,
    )


def _refused(answer: Answer, scope: Scope, question: str, reason: str) -> Answer:
    answer.kind, answer.unit, answer.notes, answer.freshness = "refused", None, [], []
    answer.title = (
        "Outside what you may see" if scope.who == "you" else "Outside what this channel may see"
    )
    answer.message = scope.refusal(question, reason)
    return answer


def _freshness(db: Database, answer: Answer, groups: list[Group]) -> None:
    """Billing's freshness when billing gave every dollar shown, else the heartbeats'."""
    sources = {p.source for g in groups for p in g.parts if p.amount is not None}
    if sources == {BILLED}:
        answer.fresh_from = "billing"
        answer.data_through = reads.data_span(db)[1]
        answer.freshness = [
            Fresh(f.provider, f.source, f.data_through, f.loaded_at) for f in reads.freshness(db)
        ]
