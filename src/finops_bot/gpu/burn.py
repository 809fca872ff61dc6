"""The live burn: GPU money from heartbeats × node prices, where billing cannot say yet.

Billing lags 24–72 h. Two numbers fill the gap, both estimates at list prices (the price
book: [gpu_prices] config, the GCP catalog, the bundled table), never billed amounts:

- ``live_estimate``: the days of a period after each provider's billing data ends, from the
  GPU-minutes the nodes reported (minutes with no heartbeat are not counted). It is decided
  from the current freshness at every read, so a day whose billing lands leaves the
  estimate: billing replaces it, it is never added on top.
- ``burn_now``: what the fleet costs per hour right now: every node that still reports, busy
  or idle; silent nodes are named apart and never priced into the total.

``now`` always comes from the caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from finops_bot.gpu.fleet import (
    MINUTE,
    FleetRules,
    NodeState,
    billing_labels,
    fleet,
    price_bases,
)
from finops_bot.gpu.prices import PriceBook
from finops_bot.money import format_money
from finops_bot.providers import cloud_of
from finops_bot.store import reads

Keep = Callable[[Mapping[str, str | None]], bool]


@dataclass(frozen=True)
class LiveEstimate:
    """GPU dollars of the days billing does not cover yet (an estimate at list prices)."""

    start: date  # the days it covers (inclusive)
    end: date
    total: float  # in ``currency`` (the price book's, USD)
    nodes: int  # nodes that contributed
    price_basis: str  # how the node prices were found, e.g. "bundled 2026-11-01 (3 nodes)"
    currency: str = "USD"
    by_day: tuple[tuple[str, float], ...] = ()  # (ISO day, amount), in day order
    by_project: tuple[tuple[str, float], ...] = ()  # (project or "", amount), largest first
    since: tuple[tuple[str, str], ...] = ()  # (cloud id, first ISO day estimated) per cloud
    unpriced: tuple[str, ...] = ()  # nodes that reported in those days but have no price

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "total": round(self.total, 6),
            "nodes": self.nodes,
            "price_basis": self.price_basis,
            "currency": self.currency,
        }


@dataclass(frozen=True)
class _Node:
    """One node as the estimate prices it (``price_basis``: what fleet.price_bases reads)."""

    node: str
    hostname: str
    provider: str | None
    project: str | None  # its latest labels (the minutes' labels win where they differ)
    owner: str | None
    per_gpu: float | None
    gpus: int
    price_basis: str | None


def billed_through(db: Database) -> dict[str, date]:
    """Cloud id → the last day its billing data covers: the latest over its sources and
    spellings (as the answers' freshness reads it), so a day one source holds is never
    estimated on top of it."""
    through: dict[str, date] = {}
    for f in reads.freshness(db):
        cloud, day = cloud_of(f.provider), date.fromisoformat(f.data_through)
        through[cloud] = max(through.get(cloud, day), day)
    return through


def live_estimate(
    db: Database,
    prices: PriceBook,
    start: date,
    end: date,
    now: datetime,
    keep: Keep | None = None,
) -> LiveEstimate | None:
    """GPU dollars of the days in [start, end] after each node's provider's billing data
    ends: node price per GPU × the GPU-minutes it reported / 60, nothing after ``now``. A
    provider with no billing data in the cache has every day of [start, end] estimated
    (billing covers none of it). ``keep`` gets each node's {project, owner, provider, team,
    node} (project and owner from its minutes, else the billing tags). None when nothing
    contributes (no heartbeats in those days, billing covers them all, or none is priced).

    The agent reports every GPU of a node in each batch, so a node's GPU-minutes are its
    minutes × its GPUs: the counts come from gpu_node_days (one GPU's minutes per node, day
    and labels, kept by store_batches; see heartbeat._roll_up), a few rows per node-day
    instead of a node's minutes."""
    clock = _naive_utc(now)
    last = min(end, clock.date())
    providers = [p for (p,) in db.execute("SELECT DISTINCT provider FROM gpu_latest")]
    spans = _open_days(providers, billed_through(db), start, last, clock)
    if not spans:
        return None
    nodes, minutes = _node_minutes(db, prices.with_catalog(db), spans)
    by_day, by_project, used, unpriced = _tally(db, nodes, minutes, keep)
    if not used:
        return None
    clouds = sorted({cloud_of(n.provider or "") for n in used})
    since = tuple((cloud, spans[cloud][0][0]) for cloud in clouds)
    return LiveEstimate(
        start=date.fromisoformat(min(day for _, day in since)),
        end=last,
        total=sum(by_day.values()),
        nodes=len(used),
        price_basis=price_bases(used),  # type: ignore[arg-type]  # it reads .price_basis
        by_day=tuple(sorted(by_day.items())),
        by_project=tuple(sorted(by_project.items(), key=lambda item: (-item[1], item[0]))),
        since=since,
        unpriced=unpriced,
    )


def _tally(db: Database, nodes: dict[str, _Node], minutes: Minutes, keep: Keep | None):
    """Dollars by day and by project of the kept, priced nodes' minutes; the nodes used;
    the kept nodes with no price (by hostname)."""
    teams = reads.project_teams(db) if keep is not None else {}
    fallback: dict[str, tuple[str | None, str | None]] = {}  # unlabelled: billing tags
    by_day: dict[str, float] = {}
    by_project: dict[str, float] = {}
    used: dict[str, _Node] = {}
    unpriced: set[str] = set()
    for node_id, day, project, owner, gpus, count in minutes:
        node = nodes[node_id]
        if not project or not owner:
            if node_id not in fallback:
                fallback[node_id] = billing_labels(db, node_id, node.hostname)
            project, owner = project or fallback[node_id][0], owner or fallback[node_id][1]
        project = project or ""
        values = {"project": project, "owner": owner or "", "provider": node.provider}
        values |= {"team": teams.get(project), "node": node_id}
        if keep is not None and not keep(values):
            continue
        if node.per_gpu is None:
            unpriced.add(node.hostname)
            continue
        dollars = node.per_gpu * gpus * count / 60
        by_day[day] = by_day.get(day, 0.0) + dollars
        by_project[project] = by_project.get(project, 0.0) + dollars
        used[node_id] = node
    return by_day, by_project, list(used.values()), tuple(sorted(unpriced))


def _naive_utc(now: datetime) -> datetime:
    """The heartbeat tables' clock: naive UTC minutes."""
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def _open_days(
    providers: list[str | None], through: dict[str, date], start: date, end: date, clock: datetime
) -> dict[str, list[tuple[str, str, str]]]:
    """Per cloud of the fleet's providers: (ISO day, first minute, minute after the last)
    of each day of [start, end] its billing does not cover, cut at ``clock``."""
    stop = (clock + timedelta(minutes=1)).strftime(MINUTE)  # the minute ``now`` ends counts
    spans: dict[str, list[tuple[str, str, str]]] = {}
    for cloud in sorted({cloud_of(p or "") for p in providers}):
        billed = through.get(cloud)
        day = max(start, billed + timedelta(days=1)) if billed else start
        days = []
        while day <= end:
            after = min(f"{day + timedelta(days=1):%Y-%m-%d}T00:00", stop)
            days.append((day.isoformat(), f"{day:%Y-%m-%d}T00:00", after))
            day += timedelta(days=1)
        if days:
            spans[cloud] = days
    return spans


_NODES = (  # each node's counting GPU: the GPU seen last (a replaced GPU's row is not it),
    # lowest index (heartbeat._roll_up counts the same one), and its GPUs
    "SELECT l.node, l.gpu, l.hostname, l.provider, l.instance_type, l.spot, l.name, l.region, "
    "l.project, l.owner, (SELECT COUNT(*) FROM gpu_latest x WHERE x.node = l.node) "
    "FROM gpu_latest l WHERE l.gpu = (SELECT x.gpu FROM gpu_latest x WHERE x.node = l.node "
    "ORDER BY x.window_end DESC, x.gpu_index, x.gpu LIMIT 1)"
)
_ROLLUP = (  # per [node, first day, last day]: its gpu_node_days rows (a primary-key range)
    "SELECT r.node, r.day, r.project, r.owner, r.gpus, r.minutes FROM json_each(?) j "
    "JOIN gpu_node_days r ON r.node = json_extract(j.value, '$[0]') "
    "AND r.day >= json_extract(j.value, '$[1]') AND r.day <= json_extract(j.value, '$[2]')"
)
_AFTER = (  # per [node, counting GPU]: its minutes in [?, ?) by label
    "SELECT m.node, COALESCE(m.project, ''), COALESCE(m.owner, ''), COUNT(*) FROM json_each(?) j "
    "JOIN gpu_minutes m ON m.node = json_extract(j.value, '$[0]') "
    "AND m.gpu = json_extract(j.value, '$[1]') AND m.minute >= ? AND m.minute < ? "
    "GROUP BY 1, 2, 3"
)

Minutes = list[tuple[str, str, str, str, int, int]]  # node, day, project, owner, gpus, minutes


def _node_minutes(
    db: Database,
    book: PriceBook,
    spans: dict[str, list[tuple[str, str, str]]],
) -> tuple[dict[str, _Node], Minutes]:
    """The nodes, and (node, day, project, owner, GPUs, minutes) of their open days, read
    from gpu_node_days (per node-day and label, '' unlabelled: the counting GPU's minutes
    and the node's GPUs): a few rows per node-day, never its minutes. A day ``now``
    cuts short has the counting GPU's minutes after it taken off (none, unless the minutes
    run ahead of ``now``: a past ``now``, an agent's clock ahead)."""
    open_days = {cloud: {day for day, _, _ in days} for cloud, days in spans.items()}
    nodes: dict[str, _Node] = {}
    counting: dict[str, str] = {}
    for row in db.execute(_NODES).fetchall():
        node_id, gpu, hostname, provider, itype, spot, name, region, project, owner, gpus = row
        if cloud_of(provider or "") not in spans:
            continue
        spot = None if spot is None else bool(spot)
        price = book.node(provider, itype, spot, name, region, gpus)
        nodes[node_id] = _Node(
            node_id, hostname, provider, project, owner, price.per_gpu, gpus, price.basis
        )
        counting[node_id] = gpu
    if not nodes:
        return {}, []
    ranges = []
    for node in nodes.values():
        days = spans[cloud_of(node.provider or "")]
        ranges.append([node.node, days[0][0], days[-1][0]])
    counts: dict[tuple[str, str, str, str], list[int]] = {}
    for node_id, day, project, owner, gpus, count in db.execute(_ROLLUP, [json.dumps(ranges)]):
        if day in open_days[cloud_of(nodes[node_id].provider or "")]:
            counts[(node_id, day, project, owner)] = [gpus or nodes[node_id].gpus, count]
    for day, after, midnight in _cut(spans):
        pairs = [
            [node_id, gpu]
            for node_id, gpu in counting.items()
            if day in open_days[cloud_of(nodes[node_id].provider or "")]
        ]
        for node_id, project, owner, count in db.execute(
            _AFTER, (json.dumps(pairs), after, midnight)
        ):
            if (entry := counts.get((node_id, day, project, owner))) is not None:
                entry[1] -= count
    minutes = [(*key, gpus, count) for key, (gpus, count) in counts.items() if count > 0]
    return nodes, minutes


def _cut(spans: dict[str, list[tuple[str, str, str]]]) -> set[tuple[str, str, str]]:
    """(ISO day, first minute not counted, next midnight) of the open days ``now`` ends
    before their end."""
    cut = set()
    for day, _, after in (span for days in spans.values() for span in days):
        midnight = f"{date.fromisoformat(day) + timedelta(days=1):%Y-%m-%d}T00:00"
        if after < midnight:
            cut.add((day, after, midnight))
    return cut


def _days(start: date, end: date) -> str:
    """'Nov 18–19', 'Nov 19', 'Nov 30–Dec 1'."""
    if start == end:
        return f"{start:%b} {start.day}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%b} {start.day}–{end.day}"
    return f"{start:%b} {start.day}–{end:%b} {end.day}"


def whole_money(amount: float, currency: str) -> str:
    """An estimate in whole units: '$1,210'."""
    return format_money(float(round(amount)), currency).replace(".00", "", 1)


def live_line(est: LiveEstimate) -> str:
    """'live GPU estimate Nov 18–19: $1,210 from 14 nodes' (the billed half is the caller's)."""
    return (
        f"live GPU estimate {_days(est.start, est.end)}: "
        f"{whole_money(est.total, est.currency)} from {est.nodes:,} "
        f"node{'' if est.nodes == 1 else 's'}"
    )


@dataclass(frozen=True)
class BurnNow:
    """What the reporting GPU nodes cost per hour now (list prices, not billing)."""

    at: str  # the latest heartbeat used (ISO, UTC)
    total_per_hour: float  # USD/h of the reporting, priced nodes
    rows: tuple[tuple[str, float, int], ...]  # (project or "", USD/h, nodes), largest first
    silent: tuple[str, ...]  # nodes not heard from recently (by hostname): not counted
    nodes: int  # the nodes in the total
    price_basis: str
    unpriced: tuple[str, ...] = ()  # reporting nodes with no price: not counted
    currency: str = "USD"


def burn_now(
    db: Database,
    now: datetime,
    prices: PriceBook,
    rules: FleetRules | None = None,
    keep: Keep | None = None,
) -> BurnNow | None:
    """$/h by project of every node that is not silent (busy and idle alike: what the fleet
    costs per hour now), from the latest fleet state. Silent nodes are named, never priced
    in: they may be gone. None when no node (inside ``keep``) has ever reported."""
    nodes = fleet(db, now, prices, rules or FleetRules())
    if keep is not None:
        teams = reads.project_teams(db)
        nodes = [n for n in nodes if keep(_values(n, teams))]
    if not nodes:
        return None
    live = [n for n in nodes if n.state != "silent"]
    priced = [n for n in live if n.hourly is not None]
    rows: dict[str, list] = {}
    for n in priced:
        entry = rows.setdefault(n.project or "", [0.0, 0])
        entry[0] += n.hourly
        entry[1] += 1
    at = max(n.last_seen for n in (live or nodes))
    return BurnNow(
        at=at.replace(tzinfo=UTC).isoformat(timespec="minutes"),
        total_per_hour=sum(n.hourly for n in priced),
        rows=tuple(sorted(((p, v[0], v[1]) for p, v in rows.items()), key=lambda r: (-r[1], r[0]))),
        silent=tuple(sorted(n.hostname for n in nodes if n.state == "silent")),
        nodes=len(priced),
        price_basis=price_bases(priced),
        unpriced=tuple(sorted(n.hostname for n in live if n.hourly is None)),
    )


def _values(node: NodeState, teams: Mapping[str, str]) -> dict[str, str | None]:
    """What a ``keep`` filter sees of a node."""
    return {
        "project": node.project,
        "owner": node.owner,
        "provider": node.provider,
        "team": teams.get(node.project or ""),
        "node": node.node,
    }
