"""The idle-GPU digest, composed (pure; ``now`` from the caller): idle, idle-memory-held,
partly idle, stalled and silent nodes (a node that stopped reporting may still be billing),
grouped by owner, each with its GPUs, how long, $/h now, idle $ so far and $ per day if
left running; the totals; and a 7-day idle GPU-hours leaderboard by owner. Within the
audience's access scope (a node is inside when its project, owner and provider are)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlite_utils import Database

from finops_bot.access import Scope
from finops_bot.gpu.fleet import FleetRules, fleet, idle_cost
from finops_bot.gpu.prices import PriceBook
from finops_bot.questions.gpu_answers import node_filter
from finops_bot.store import proposals

WASTE = ("idle", "idle, memory held", "partly idle", "stalled", "silent")
LEADERS = 5


@dataclass(frozen=True)
class IdleNode:
    hostname: str
    owner: str  # "(no owner)" when the node has none
    project: str | None
    state: str
    idle_gpus: int
    gpus: int
    since: datetime
    hourly: float | None  # $/h wasted now (a stalled node whole; silent: unknown)
    so_far: float | None  # idle $ since it went idle
    per_day: float | None  # $ a day if left running
    node_hourly: float | None = None  # the whole node's price (a silent node may still bill it)


@dataclass
class IdleDigest:
    name: str
    now: datetime
    scope: str | None
    owners: dict[str, list[IdleNode]] = field(default_factory=dict)
    hourly: float = 0.0
    so_far: float = 0.0
    leaderboard: list[tuple[str, float, float]] = field(default_factory=list)  # owner, h, $
    cards: list = field(default_factory=list)  # proposals awaiting a click (store.proposals)

    @property
    def nodes(self) -> list[IdleNode]:
        return [n for nodes in self.owners.values() for n in nodes]


def compose_idle(
    db: Database,
    scope: Scope | None,
    name: str,
    now: datetime,
    prices: PriceBook | None = None,
    rules: FleetRules | None = None,
) -> IdleDigest:
    rules = rules or FleetRules()
    keep = node_filter(db, scope)
    digest = IdleDigest(name, now, scope.shown() if keep else None)
    grouped: dict[str, list[IdleNode]] = defaultdict(list)
    shown: set[str] = set()
    for n in fleet(db, now, prices, rules):
        values = {"project": n.project, "owner": n.owner, "provider": n.provider}
        if n.state not in WASTE or (keep and not keep(values)):
            continue
        hourly = n.waste_hourly
        so_far = n.idle_dollars(now.replace(tzinfo=None))  # the one definition (gpu.fleet)
        idle = sum(1 for g in n.gpus if g.idle) if n.state != "stalled" else len(n.gpus)
        shown.add(n.node)
        grouped[n.owner or "(no owner)"].append(
            IdleNode(
                n.hostname,
                n.owner or "(no owner)",
                n.project,
                n.state,
                idle,
                len(n.gpus),
                n.since,
                hourly,
                so_far,
                hourly * 24 if hourly is not None else None,
                n.hourly,
            )
        )
    for owner in sorted(grouped, key=lambda o: -sum(x.hourly or 0 for x in grouped[o])):
        digest.owners[owner] = sorted(grouped[owner], key=lambda x: -(x.hourly or 0))
    digest.cards = proposals.proposed_for(db, shown)
    digest.hourly = sum(x.hourly or 0.0 for x in digest.nodes)
    digest.so_far = sum(x.so_far or 0.0 for x in digest.nodes)
    week = idle_cost(db, now - timedelta(days=7), now, prices, rules, by="owner", keep=keep)
    ranked = sorted(week, key=lambda row: -row[2])[:LEADERS]  # by GPU-hours
    digest.leaderboard = [
        (o or "(no owner)", minutes / 60, dollars) for o, dollars, minutes in ranked
    ]
    return digest
