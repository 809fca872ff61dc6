"""Fleet states and idle money, from the heartbeat rollups. ``now`` is always passed in.

States (defaults configurable through FleetRules):
- silent: no heartbeat for 3 minutes (3 batch intervals): node gone or agent dead. Never
  counted as idle; its timer starts at the last heartbeat.
- stalled: the node reports a progress counter, a process still runs on its GPUs, and the
  counter has not moved for 30 minutes, whether the GPUs compute or not. The timer resets
  whenever the counter changes. (A finished job has left the GPUs: that is idle.)
- idle: every GPU of the node under 5 % utilisation (the per-minute max) for 30 minutes.
  A GPU's idle timer resets at any minute whose max utilisation reaches 5 %. The endpoint
  keeps that timer as batches arrive (gpu_latest.busy_minute, with [fleet] idle_util), so
  the fleet view reads one row per GPU; a changed threshold applies from then on.
- idle, memory held: idle, and a process still holds GPU memory (the notebook that keeps a
  GPU). Same timer as idle.
- partly idle: some GPUs idle (by the rule above), others not.
- busy: anything else.
Money: each GPU costs its instance's hourly price / the instance's GPU count (PriceBook).
Idle dollars count only idle minutes that were reported: silent time costs nothing here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from finops_bot.gpu.prices import PriceBook

MINUTE = "%Y-%m-%dT%H:%M"
log = logging.getLogger("finops_bot.fleet")


@dataclass(frozen=True)
class FleetRules:
    """The state timers, configurable under [fleet] in the config file."""

    idle_util: float = 5.0  # % utilisation (per-minute max) under which a minute is idle
    idle_minutes: int = 30
    stall_minutes: int = 30
    silent_minutes: int = 3
    retention_days: int = 14  # heartbeat rollups kept
    max_batch_age_hours: float = 24  # older windows are refused (a stale buffer, a slow clock)
    max_clock_ahead_minutes: float = 5  # windows further ahead are refused (a fast clock)

    def describe(self) -> str:
        return f"every GPU under {self.idle_util:g}% for {self.idle_minutes} minutes"


def parse_fleet_rules(raw: object) -> FleetRules:
    """[fleet] idle_util = 5, idle_minutes = 30, stall_minutes = 30, silent_minutes = 3,
    retention_days = 14, max_batch_age_hours = 24, max_clock_ahead_minutes = 5."""
    from finops_bot.errors import ConfigError

    if raw is None:
        return FleetRules()
    if not isinstance(raw, dict):
        raise ConfigError("[fleet] must be a table, e.g. idle_util = 5")
    limits = {
        "idle_util": (0.1, 100.0),
        "idle_minutes": (1, 10080),
        "stall_minutes": (1, 10080),
        "silent_minutes": (1, 1440),
        "retention_days": (1, 400),
        "max_batch_age_hours": (0.1, 24 * 30),
        "max_clock_ahead_minutes": (0.1, 24 * 60),
    }
    values = {}
    for key, value in raw.items():
        if key not in limits:
            raise ConfigError(f"[fleet] {key}: unknown; use one of {', '.join(limits)}")
        low, high = limits[key]
        whole = key not in ("idle_util", "max_batch_age_hours", "max_clock_ahead_minutes")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (whole and not isinstance(value, int))
            or not low <= value <= high
        ):
            kind = "a whole number" if whole else "a number"
            raise ConfigError(f"[fleet] {key}: give {kind} from {low:g} to {high:g}")
        values[key] = value
    return FleetRules(**values)


@dataclass
class GpuState:
    gpu: str
    index: int
    name: str | None
    util: float | None
    idle: bool
    idle_since: datetime | None
    memory_held: bool
    hourly: float | None


@dataclass
class NodeState:
    node: str
    hostname: str
    provider: str | None
    instance_type: str | None
    spot: bool | None
    project: str | None
    owner: str | None
    state: str
    since: datetime
    last_seen: datetime
    gpus: list[GpuState] = field(default_factory=list)
    hourly: float | None = None  # the whole node, USD/h
    gpu_count: int | None = None  # the instance type's GPUs (for the per-GPU price)
    progress: int | None = None
    processes: int = 0
    price_basis: str | None = None  # where the price came from: config, catalog, bundled
    progress_since: datetime | None = None  # the counter has held its value since
    place: tuple[str | None, ...] = (None, None, None, None)  # instance id, region, zone, account
    memory_mb: float = 0.0  # GPU memory held by processes, over the node's GPUs

    @property
    def idle_hourly(self) -> float | None:
        if self.state == "silent" or self.hourly is None:
            return None
        return sum(g.hourly or 0.0 for g in self.gpus if g.idle)

    @property
    def waste_hourly(self) -> float | None:
        """What the node wastes per hour now: its idle GPUs, or all of it when stalled."""
        if self.state == "stalled" and self.hourly is not None:
            return self.hourly
        return self.idle_hourly

    def idle_dollars(self, now: datetime) -> float | None:
        """Dollars burnt by the GPUs idle right now, since each became idle (a stalled
        node: all of it, since it stalled)."""
        if self.state == "silent" or self.hourly is None:
            return None
        if self.state == "stalled":
            return self.hourly * max((now - self.since).total_seconds(), 0) / 3600
        return sum(
            (g.hourly or 0.0) * (now - g.idle_since).total_seconds() / 3600
            for g in self.gpus
            if g.idle and g.idle_since
        )


def _minute(text: str) -> datetime:
    return datetime.fromisoformat(text[:16])  # "YYYY-MM-DDTHH:MM", naive UTC


def fleet(
    db: Database,
    now: datetime,
    prices: PriceBook | None = None,
    rules: FleetRules = FleetRules(),
    idle_only: bool = False,
) -> list[NodeState]:
    """Every node's state, from one read of gpu_latest (its timers are kept at write time).
    ``idle_only``: only nodes that may be idle, partly idle or stalled, chosen in SQL first,
    so "which GPUs are idle" costs what the idle nodes cost, not the whole fleet."""
    prices = (prices or PriceBook()).with_catalog(db)
    now_naive = now.replace(tzinfo=None)
    sql = (
        "SELECT node, gpu, hostname, provider, instance_type, region, spot, project, owner, "
        "progress, gpu_index, name, util_mean, processes, process_mem_mb, window_end, "
        "busy_minute, first_minute, progress_minute, instance_id, zone, account "
        "FROM gpu_latest"  # in key order: no sort
    )
    params: tuple = ()
    if idle_only:  # a superset of the idle and stalled GPUs' nodes; the rules below decide
        idle_by = now_naive - timedelta(minutes=rules.idle_minutes - 1)
        stall_by = now_naive - timedelta(minutes=rules.stall_minutes)
        heard_by = now - timedelta(minutes=rules.silent_minutes + 60)  # clock skew allowed
        sql += (
            " WHERE node IN (SELECT node FROM gpu_latest WHERE received_at >= ? AND "
            "(COALESCE(busy_minute, first_minute) <= ? "
            "OR (progress IS NOT NULL AND progress_minute <= ?)))"
        )
        params = (
            heard_by.astimezone(UTC).isoformat(timespec="seconds"),
            idle_by.strftime(MINUTE),
            stall_by.strftime(MINUTE),
        )
    rows = db.execute(sql, params).fetchall()
    by_node: dict[str, list[tuple]] = {}
    for row in rows:
        by_node.setdefault(row[0], []).append(row)
    for gpu_rows in by_node.values():
        gpu_rows.sort(key=lambda row: row[10])  # by GPU index
    nodes: dict[str, NodeState] = {}
    for node, gpu_rows in by_node.items():
        try:
            nodes[node] = _node_state(node, gpu_rows, prices, now_naive, rules)
        except (ValueError, OverflowError, TypeError) as exc:  # a row stored out of range
            log.warning("skipping GPU node %s: a stored reading is unreadable (%s)", node, exc)
    for state in nodes.values():
        if not state.project or not state.owner:  # agent labels first, then billing tags
            project, owner = billing_labels(db, state.node, state.hostname)
            state.project, state.owner = state.project or project, state.owner or owner
        _decide(state, now_naive, rules)
    return sorted(nodes.values(), key=lambda s: (s.state != "idle", s.node))


def _node_state(node, gpu_rows, prices, now_naive: datetime, rules: FleetRules) -> NodeState:
    """One node's state from its GPUs' latest rows (in GPU order)."""
    _, _, hostname, provider, itype, region, spot, project, owner, progress = gpu_rows[0][:10]
    spot = None if spot is None else bool(spot)
    price = prices.node(provider, itype, spot, gpu_rows[0][11], region, len(gpu_rows))
    last_seen = max(datetime.fromisoformat(r[15]).replace(tzinfo=None) for r in gpu_rows)
    state = NodeState(
        node,
        hostname,
        provider,
        itype,
        spot,
        project,
        owner,
        "busy",
        last_seen,
        last_seen,
        hourly=price.hourly,
        gpu_count=price.gpus,
        progress=progress,
        price_basis=price.basis,
        progress_since=max(_minute(r[18]) for r in gpu_rows if r[18]) if progress else None,
        place=(gpu_rows[0][19], region, gpu_rows[0][20], gpu_rows[0][21]),
    )
    for row in gpu_rows:
        gpu, index, name, util, processes, process_mem = (row[1], *row[10:15])
        busy, first = row[16], row[17]
        state.processes += processes or 0
        state.memory_mb += process_mem or 0.0
        if busy:
            idle_since = _minute(busy) + timedelta(minutes=1)
        else:
            idle_since = _minute(first) - timedelta(minutes=1) if first else last_seen
        idle = now_naive - idle_since >= timedelta(minutes=rules.idle_minutes)
        state.gpus.append(
            GpuState(
                gpu,
                index,
                name,
                util,
                idle,
                idle_since if idle else None,
                bool(processes) and (process_mem or 0) > 0,
                price.per_gpu,
            )
        )
    return state


def price_bases(nodes: list[NodeState]) -> str:
    """Where the nodes' prices come from, e.g. "bundled 2026-11-01 (3 nodes), config (1)"."""
    counts: dict[str, int] = {}
    for n in nodes:
        if n.price_basis:
            counts[n.price_basis] = counts.get(n.price_basis, 0) + 1
    return ", ".join(
        f"{basis} ({count} node{'s' if count > 1 else ''})"
        for basis, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    )


def billing_labels(db: Database, *names: str | None) -> tuple[str | None, str | None]:
    """(project, owner) the billing data's tags give the first of ``names`` (instance id,
    hostname) that matches a resource; (None, None) when none does."""
    from finops_bot.store.resources import resource_key

    for name in names:
        if not name:
            continue
        row = db.execute(
            "SELECT project, owner FROM resource_allocation WHERE resource_key = ?",
            (resource_key(name),),
        ).fetchone()
        if row:
            return row[0] or None, row[1] or None
    return None, None


def _decide(state: NodeState, now: datetime, rules: FleetRules) -> None:
    if now - state.last_seen > timedelta(minutes=rules.silent_minutes):
        for g in state.gpus:  # silent is never idle
            g.idle, g.idle_since = False, None
        state.state, state.since = "silent", state.last_seen
        return
    # stalled: a process still runs on the GPUs but its step counter stopped (a job that
    # finished has left the GPUs: that is idle, not stalled)
    since = state.progress_since
    stalled = since is not None and now - since >= timedelta(minutes=rules.stall_minutes)
    if stalled and state.processes:
        state.state, state.since = "stalled", since
        return
    idle = [g for g in state.gpus if g.idle]
    if state.gpus and len(idle) == len(state.gpus):
        held = any(g.memory_held for g in idle)
        state.state = "idle, memory held" if held else "idle"
        state.since = max(g.idle_since for g in idle if g.idle_since)
    elif idle:
        state.state = "partly idle"
        state.since = min(g.idle_since for g in idle if g.idle_since)
    else:
        state.state, state.since = "busy", state.last_seen


def idle_cost(
    db: Database,
    start: datetime,
    end: datetime,
    prices: PriceBook | None = None,
    rules: FleetRules = FleetRules(),
    by: str = "project",
    keep: Callable[[Mapping[str, str | None]], bool] | None = None,
) -> list[tuple[str, float, int]]:
    """Idle GPU dollars per project (or owner) over [start, end): (name, USD, idle minutes).

    A minute is idle when its max utilisation stayed under the threshold; minutes with no
    heartbeat are not counted (silent is never idle). ``keep``: which nodes count, from
    their project, owner and provider (an access scope)."""
    prices = (prices or PriceBook()).with_catalog(db)
    node_price, hostnames, providers = {}, {}, {}
    for node, provider, itype, spot, name, region, gpus, hostname in db.execute(
        "SELECT node, provider, instance_type, spot, MIN(name), region, COUNT(*), "
        "MIN(hostname) FROM gpu_latest GROUP BY node"
    ):
        spot = None if spot is None else bool(spot)
        node_price[node] = prices.node(provider, itype, spot, name, region, gpus).per_gpu
        hostnames[node], providers[node] = hostname, provider
    fallback: dict[str, tuple[str | None, str | None]] = {}  # unlabelled: billing tags

    def labels(node: str, project: str, owner: str) -> tuple[str, str]:
        if (not project or not owner) and node not in fallback:
            fallback[node] = billing_labels(db, node, hostnames.get(node))
        billed = fallback.get(node, (None, None))
        return project or billed[0] or "", owner or billed[1] or ""

    totals: dict[str, list] = {}
    for project, owner, node, minutes in db.execute(
        "SELECT COALESCE(project, ''), COALESCE(owner, ''), node, COUNT(*) FROM gpu_minutes "
        "WHERE minute >= ? AND minute < ? AND util_max < ? GROUP BY 1, 2, 3",
        (start.strftime(MINUTE), end.strftime(MINUTE), rules.idle_util),
    ):
        project, owner = labels(node, project, owner)
        values = {"project": project, "owner": owner, "provider": providers.get(node), "node": node}
        if keep is not None and not keep(values):
            continue
        price = node_price.get(node)
        entry = totals.setdefault(owner if by == "owner" else project, [0.0, 0])
        entry[1] += minutes
        if price is not None:
            entry[0] += price * minutes / 60
    return sorted(((k, v[0], v[1]) for k, v in totals.items()), key=lambda x: -x[1])
