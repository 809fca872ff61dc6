"""The GPU questions: "which GPUs are idle" (live, from the fleet) and "idle GPU cost for X
this week" (from the per-minute rollups) — dollars no billing tool can show."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlite_utils import Database

from finops_bot.gpu.fleet import FleetRules, fleet, idle_cost, price_bases
from finops_bot.gpu.prices import PRICE_ORDER, PriceBook
from finops_bot.questions.answer import Answer, Row
from finops_bot.questions.names import fold
from finops_bot.questions.parse import Query
from finops_bot.questions.periods import Period


def _freshness(db: Database) -> str | None:
    row = db.execute("SELECT MAX(received_at) FROM heartbeat_batches").fetchone()
    return row[0] if row else None


def gpu_answer(
    db: Database,
    q: Query,
    question: str,
    today: date,
    now: datetime,
    prices: PriceBook,
    rules: FleetRules | None = None,
) -> Answer:
    rules = rules or FleetRules()
    last = _freshness(db)
    base = dict(
        question=question,
        measure="idle GPU USD (node price / GPUs)",
        loaded_at=last,
        data_through=None,
    )
    if q.kind == "idle_gpus":
        nodes = [
            n
            for n in fleet(db, now, prices, rules, idle_only=True)
            if n.state in ("idle", "idle, memory held", "partly idle", "stalled")
        ]
        rows = []
        for n in nodes:
            idle = sum(g.idle for g in n.gpus)
            label = (
                f"{n.hostname} · {n.project or 'no project'} · {n.owner or 'no owner'} · "
                f"{n.state} since {n.since:%H:%M} · {idle}/{len(n.gpus)} GPUs"
            )
            rows.append(Row(label, n.idle_hourly or 0.0, "USD"))
        rows.sort(key=lambda r: -r.cost)
        answer = Answer(
            kind="idle_gpus",
            title="Idle GPUs now",
            totals={"USD": sum(r.cost for r in rows)} if rows else {},
            rows=rows[:10],
            more_rows=max(len(rows) - 10, 0),
            **base,
        )
        answer.notes.append(
            f"Cost is idle USD per hour now. Idle: {rules.describe()}; "
            f"prices: {price_bases(nodes) or PRICE_ORDER}."
        )
        if not last:
            answer.notes.append(
                "No heartbeats yet: run the agent on your GPU nodes "
                "(python -m bot agent-token create, then GET /agent.py)."
            )
        return answer
    period = q.period or Period(today - timedelta(days=today.weekday()), today, "this week", "week")
    start = datetime.combine(period.start, time(0), tzinfo=UTC)
    end = min(datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=UTC), now)
    by = q.by if q.by in ("owner", "project") else "project"
    rows = idle_cost(db, start, end, prices, rules, by=by)
    if q.name:
        rows = [r for r in rows if fold(r[0]) == fold(q.name)]
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
        **base,
    )
    minutes = sum(r[2] for r in rows)
    answer.notes.append(
        f"{minutes:,} idle GPU-minutes (max utilisation under {rules.idle_util:g}%); silent "
        f"time is not counted; prices: {PRICE_ORDER}."
    )
    return answer
