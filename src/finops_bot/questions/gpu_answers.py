"""The GPU questions: "which GPUs are idle" (live, from the fleet) and "idle GPU cost for X
this week" (from the per-minute rollups) — dollars no billing tool can show. ``now`` comes
from the caller."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlite_utils import Database

from finops_bot.access import Scope
from finops_bot.gpu.fleet import FleetRules, NodeState, fleet, idle_cost, price_bases
from finops_bot.gpu.prices import PRICE_ORDER, PriceBook
from finops_bot.providers import fold
from finops_bot.questions.answer import Answer, Fresh, Row
from finops_bot.questions.parse import Query
from finops_bot.questions.periods import Period
from finops_bot.store import proposals, reads

WASTE_STATES = ("idle", "idle, memory held", "partly idle", "stalled")
BASIS = "node list price ÷ its GPUs (" + PRICE_ORDER + ")"


def _heard(db: Database) -> str | None:
    row = db.execute("SELECT MAX(received_at) FROM heartbeat_batches").fetchone()
    return row[0] if row else None


def _matches(node: NodeState, name: str | None) -> bool:
    """'alice' matches owner alice@acme.ai; a project or owner by its folded name."""
    if not name:
        return True
    wanted = fold(name)
    owner = fold(node.owner or "")
    return wanted in (fold(node.project or ""), owner, owner.split("@", 1)[0])


def waste_hourly(node: NodeState) -> float:
    return node.waste_hourly or 0.0


def gpu_answer(
    db: Database,
    q: Query,
    question: str,
    today: date,
    now: datetime,
    prices: PriceBook,
    rules: FleetRules | None = None,
    scope: Scope | None = None,
) -> Answer:
    """``scope``: the access scope (None: every node); a node is inside when its project,
    owner and provider are (a node without one of them is outside a grant that names it)."""
    rules = rules or FleetRules()
    last = _heard(db)
    base = dict(
        question=question,
        measure=None,
        loaded_at=last,
        data_through=None,
        fresh_from="heartbeats",
        basis=BASIS,
        freshness=[Fresh("fleet", "heartbeats", None, last)] if last else [],
    )
    if scope is not None:
        base["scope"] = scope.shown()
    keep = node_filter(db, scope)
    if keep is not None and q.name and _partly_outside(db, q, today, now, prices, rules, keep):
        return Answer(
            kind="refused",
            title="Outside what you may see"
            if scope.who == "you"
            else "Outside what this channel may see",
            message=scope.refusal(question, "it also has GPUs outside that scope"),
            **{**base, "freshness": []},
        )
    if q.kind == "idle_gpus":
        return _idle_now(db, q, now, prices, rules, base, keep)
    return _idle_cost(db, q, today, now, prices, rules, base, keep)


def _idle_now(db, q: Query, now: datetime, prices, rules: FleetRules, base: dict, keep) -> Answer:
    nodes = [n for n in fleet(db, now, prices, rules) if _matches(n, q.name)]
    if keep is not None:
        nodes = [n for n in nodes if keep(_values(n))]
    wasting = [n for n in nodes if n.state in WASTE_STATES]
    silent = [n for n in nodes if n.state == "silent"]
    rows = []
    for n in wasting:
        idle = sum(g.idle for g in n.gpus)
        label = (
            f"{n.hostname} · {n.project or 'no project'} · {n.owner or 'no owner'} · "
            f"{n.state} since {n.since:%H:%M} · {idle}/{len(n.gpus)} GPUs idle"
        )
        rows.append(Row(label, waste_hourly(n), "USD"))
    rows.sort(key=lambda r: -r.cost)
    scope = f" for {q.name}" if q.name else ""
    answer = Answer(
        kind="idle_gpus",
        title=f"Idle GPUs now{scope}",
        totals={"USD": sum(r.cost for r in rows)} if rows else {},
        rows=rows[:10],
        more_rows=max(len(rows) - 10, 0),
        unit="money_per_hour",
        nothing=f"No idle or stalled GPUs now{scope}.",
        filters={"owner or project": q.name} if q.name else {},
        **base,
    )
    answer.notes.append(
        f"USD per hour wasted now: idle GPUs at their share of the node's price, stalled "
        f"nodes whole. Idle: {rules.describe()}; prices: {price_bases(wasting) or PRICE_ORDER}."
    )
    if silent:
        names = ", ".join(n.hostname for n in silent[:5]) + (" …" if len(silent) > 5 else "")
        answer.notes.append(
            f"{len(silent)} node{'s' if len(silent) > 1 else ''} stopped reporting "
            f"({names}) — they may still be billing."
        )
    answer.cards = proposals.proposed_for(db, {n.node for n in wasting}, limit=3)
    if answer.cards:
        answer.notes.append(
            f"{len(answer.cards)} of these have a proposal to stop them (the cards' buttons in "
            "Slack; `python -m bot proposals`)."
        )
    if not base["loaded_at"]:
        answer.notes.append(
            "No heartbeats yet: run the agent on your GPU nodes "
            "(python -m bot agent-token create, then GET /agent.py)."
        )
    return answer


def _partly_outside(db, q: Query, today, now, prices, rules, keep) -> bool:
    """A named project or owner with nodes (or idle time) outside the scope: refused, never
    shown as a partial number."""
    if q.kind == "idle_gpus":
        named = [n for n in fleet(db, now, prices, rules) if _matches(n, q.name)]
        return any(not keep(_values(n)) for n in named)
    period, by = _window(q, today), q.by if q.by in ("owner", "project") else "project"
    start, end = _span(period, now)
    every = _named(idle_cost(db, start, end, prices, rules, by=by), q.name)
    inside = _named(idle_cost(db, start, end, prices, rules, by=by, keep=keep), q.name)
    return [(r[0], round(r[1], 6)) for r in every] != [(r[0], round(r[1], 6)) for r in inside]


def _named(rows: list, name: str) -> list:
    wanted = fold(name)
    return [r for r in rows if wanted in (fold(r[0]), fold(r[0]).split("@", 1)[0])]


def _window(q: Query, today: date) -> Period:
    return q.period or Period(today - timedelta(days=today.weekday()), today, "this week", "week")


def _span(period: Period, now: datetime) -> tuple[datetime, datetime]:
    start = datetime.combine(period.start, time(0), tzinfo=UTC)
    end = min(datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=UTC), now)
    return start, end


def node_filter(db: Database, scope: Scope | None):
    """Which nodes a scope admits, from their project, owner and provider labels, and the
    team their project's charges carry (a node's labels name no team); None: every node."""
    if scope is None or scope.everything:
        return None
    teams = reads.project_teams(db)

    def keep(values) -> bool:
        return scope.admits({**values, "team": teams.get(values.get("project") or "")})

    return keep


def _values(node: NodeState) -> dict[str, str | None]:
    return {"project": node.project, "owner": node.owner, "provider": node.provider}


def _idle_cost(db, q: Query, today: date, now: datetime, prices, rules, base, keep) -> Answer:
    period = _window(q, today)
    start, end = _span(period, now)
    by = q.by if q.by in ("owner", "project") else "project"
    rows = idle_cost(db, start, end, prices, rules, by=by, keep=keep)
    if q.name:
        rows = _named(rows, q.name)
    shown = [Row(name or f"(no {by})", dollars, "USD") for name, dollars, _ in rows]
    title = f"Idle GPU cost · {q.name}" if q.name else f"Idle GPU cost by {by}"
    answer = Answer(
        kind="idle_cost",
        title=title,
        period=period,
        filters={by: q.name} if q.name else {},
        totals={"USD": sum(r.cost for r in shown)} if shown else {},
        rows=shown[:10],
        more_rows=max(len(shown) - 10, 0),
        nothing=f"No idle GPU time in {period.describe()}.",
        **base,
    )
    minutes = sum(r[2] for r in rows)
    answer.notes.append(
        f"{minutes:,} idle GPU-minutes (max utilisation under {rules.idle_util:g}%); silent "
        f"time is not counted; prices: {PRICE_ORDER}."
    )
    return answer
