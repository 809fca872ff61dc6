"""The cost of a training step: per job (heartbeat ``labels.job``), the steps it made in a
period and what its GPUs cost, billed where billing covers the day, estimated elsewhere.

- **Steps** come from the progress counter the agent reports (``FINOPS_PROGRESS``), never
  added across nodes: the 8 nodes of a data-parallel job report the same global step, so
  each minute takes the highest counter of the job's nodes, and the job's steps are that
  series' max − min. A counter that goes back (a restart from scratch, or a resume from an
  earlier checkpoint) starts a new segment, and the segments' max − min are added: steps
  a resumed job does again were paid for again, so they count again.
- **GPU-minutes** per node-day: the node's counting GPU's minutes × its GPUs (as
  gpu_node_days counts them), split by the minutes' job.
- **Dollars** per node-day: GPU-minutes × the node's list price per GPU (PriceBook), an
  estimate; on a day the node's provider's billing covers (``burn.billed_through``) and that
  holds charges whose ResourceId is the node's instance, its billed EffectiveCost replaces
  the estimate, split over the jobs that ran on it that day by their GPU-minutes. A day
  billing covers without a charge for the node stays an estimate (and is named).
- **Unlabelled minutes** (written before minutes kept their job, m024, or from an agent
  with no FINOPS_JOB) count under the node's latest job (gpu_latest.job) only when every
  labelled minute of that node in the period carries that same job; otherwise they belong
  to no job.
- Heartbeat minutes are kept ``FleetRules.retention_days``: the days before the first day
  kept whole are not counted (``StepCosts.kept_from``). ``now`` comes from the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlite_utils import Database

from finops_bot.gpu.burn import billed_through
from finops_bot.gpu.fleet import MINUTE, billing_labels
from finops_bot.gpu.prices import PriceBook
from finops_bot.providers import cloud_of
from finops_bot.store import node_costs, reads
from finops_bot.store.node_costs import NodeRow

ESTIMATE, BILLED = "estimate", "billed"
Keep = Callable[[Mapping[str, str | None]], bool]


@dataclass(frozen=True)
class Part:
    """One node-day of one group: its GPU-minutes and what they cost, by one source."""

    node: str
    day: str  # ISO
    gpu_minutes: int
    amount: float | None  # None: the node has no price
    currency: str | None
    source: str  # ESTIMATE or BILLED


@dataclass
class Group:
    """A job's (or project's, owner's) GPU-minutes, dollars and steps over the period."""

    key: str  # the job, project or owner; '' for minutes without one
    parts: list[Part] = field(default_factory=list)
    nodes: set[str] = field(default_factory=set)  # hostnames
    projects: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)
    steps: int | None = None  # None: no minute carried a progress counter
    segments: int = 0  # runs of the counter between restarts
    no_progress: set[str] = field(default_factory=set)  # hostnames reporting no counter
    minutes_with_progress: dict[str, int] = field(default_factory=dict)  # hostname → minutes

    @property
    def gpu_minutes(self) -> int:
        return sum(p.gpu_minutes for p in self.parts)

    def money(self) -> dict[tuple[str, str], float]:
        """(source, currency) → amount of the priced parts."""
        out: dict[tuple[str, str], float] = {}
        for p in self.parts:
            if p.amount is not None and p.currency:
                out[(p.source, p.currency)] = out.get((p.source, p.currency), 0.0) + p.amount
        return out

    @property
    def currencies(self) -> set[str]:
        return {currency for _, currency in self.money()}

    @property
    def unpriced_minutes(self) -> int:
        return sum(p.gpu_minutes for p in self.parts if p.amount is None)

    def days(self, source: str) -> set[str]:
        return {p.day for p in self.parts if p.source == source and p.amount is not None}


@dataclass
class StepCosts:
    """What ``step_costs`` found over [start, end] (the days counted)."""

    start: date | None  # None: no day of the period is counted (all before retention)
    end: date | None
    kept_from: date  # the first day the heartbeats hold whole
    by: str
    groups: dict[str, Group] = field(default_factory=dict)
    fallback: dict[str, tuple[str, int]] = field(default_factory=dict)  # hostname → (job,
    # unlabelled GPU-minutes counted under it)
    unpriced: set[str] = field(default_factory=set)  # hostnames with no price
    uncovered: set[tuple[str, str]] = field(default_factory=set)  # (hostname, day) billing
    # covers but holds no charge for the node: estimated
    outside: int = 0  # groups partly outside ``keep``: left out
    hidden: set[str] = field(default_factory=set)  # keys, projects and owners with minutes
    # outside ``keep`` (never shown: what a named question inside the scope may not reach)
    bases: dict[str, str] = field(default_factory=dict)  # node → where its price came from

    def price_basis(self, groups: Iterable[Group] | None = None) -> str:
        """Where the estimated parts' prices came from, e.g. "bundled 2026-11-01 (3 nodes)",
        over ``groups`` (default: all)."""
        chosen = self.groups.values() if groups is None else groups
        nodes = {p.node for g in chosen for p in g.parts if p.source == ESTIMATE and p.amount}
        counts: dict[str, int] = {}
        for node in nodes:
            counts[self.bases[node]] = counts.get(self.bases[node], 0) + 1
        return ", ".join(
            f"{basis} ({count} node{'s' if count > 1 else ''})"
            for basis, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        )


def count_steps(counters: Iterable[int]) -> tuple[int, int]:
    """(steps, segments) of a progress series in time order: a value below the one before
    (a restart) starts a new segment; each segment adds its max − min."""
    steps = segments = 0
    low = high = previous = None
    for value in counters:
        if previous is None or value < previous:
            if low is not None:
                steps += high - low
            low = high = value
            segments += 1
        high = max(high, value)
        previous = value
    if low is not None:
        steps += high - low
    return steps, segments


def kept_from(now: datetime, retention_days: int) -> date:
    """The first UTC day whose heartbeat minutes are all still kept."""
    cutoff = _naive_utc(now) - timedelta(days=retention_days)
    return cutoff.date() + timedelta(days=0 if cutoff.time() == time(0) else 1)


def step_costs(
    db: Database,
    prices: PriceBook,
    start: date,
    end: date,
    now: datetime,
    retention_days: int = 14,
    by: str = "job",
    keep: Keep | None = None,
) -> StepCosts:
    """Per ``by`` (job, project or owner) over the days of [start, end] the heartbeats
    still hold, up to ``now``: GPU-minutes, dollars (billed or estimated) and, per job, the
    steps. ``keep`` gets each minute group's {project, owner, provider, account, team,
    node}; a group with any minutes outside it is left out whole (``outside``)."""
    clock = _naive_utc(now)
    first_day = max(start, kept_from(now, retention_days))
    last_day = min(end, clock.date())
    out = StepCosts(None, None, kept_from(now, retention_days), by)
    if first_day > last_day:
        return out
    out.start, out.end = first_day, last_day
    lo = f"{first_day:%Y-%m-%d}T00:00"
    hi = min(f"{last_day + timedelta(days=1):%Y-%m-%d}T00:00", _minute_after(clock))
    book = prices.with_catalog(db)
    fleet = {n.node: n for n in node_costs.nodes(db)}
    rows = node_costs.node_minutes(db, [(n.node, n.gpu) for n in fleet.values()], lo, hi)
    fallback = _fallback(fleet, rows)
    labelled = _labelled(db, fleet, rows, fallback, by)
    kept = _kept(db, fleet, labelled, keep, out)
    billed = _billed(db, fleet, labelled, out)
    _price(fleet, book, labelled, kept, billed, out)
    if by == "job":
        _steps(db, fleet, fallback, labelled, lo, hi, out)
    borrowed: dict[str, int] = {}
    for node, *_, minutes, _, was_borrowed, key in labelled:
        if was_borrowed and key in out.groups:
            borrowed[node] = borrowed.get(node, 0) + minutes * fleet[node].gpus
    out.fallback = {fleet[n].hostname: (fallback[n], m) for n, m in borrowed.items()}
    shown = {(fleet[p.node].hostname, p.day) for g in out.groups.values() for p in g.parts}
    out.uncovered &= shown
    return out


# a minute row once labelled: node, day, job, project, owner, minutes, with progress,
# counted under the node's latest job (fallback), the group key
Labelled = tuple[str, str, str, str, str, int, int, bool, str]


def _fallback(fleet: dict[str, NodeRow], rows: list) -> dict[str, str]:
    """Node → the job its unlabelled minutes count under: its latest job, when every
    labelled minute of it in the period carries that job."""
    jobs: dict[str, set[str]] = {}
    bare: set[str] = set()
    for node, _, job, *_ in rows:
        if job:
            jobs.setdefault(node, set()).add(job)
        else:
            bare.add(node)
    out = {}
    for node in bare:
        latest = fleet[node].job if node in fleet else None
        if latest and jobs.get(node, {latest}) <= {latest}:
            out[node] = latest
    return out


def _labelled(db, fleet, rows, fallback: dict[str, str], by: str) -> list[Labelled]:
    """Each minute row with its project and owner (billing tags for an unlabelled node, as
    the live estimate reads them), its job (the fallback's) and its group key."""
    tags: dict[str, tuple[str | None, str | None]] = {}
    out = []
    for node, day, job, project, owner, minutes, progress in rows:
        if not project or not owner:
            if node not in tags:
                n = fleet[node]
                tags[node] = billing_labels(db, n.instance_id, n.hostname)
            project, owner = project or tags[node][0] or "", owner or tags[node][1] or ""
        borrowed = not job and node in fallback
        job = job or fallback.get(node, "")
        key = {"job": job, "project": project, "owner": owner}[by]
        out.append((node, day, job, project, owner, minutes, progress, borrowed, key))
    return out


def _kept(db, fleet, labelled: list[Labelled], keep: Keep | None, out: StepCosts) -> set[str]:
    """The group keys wholly inside ``keep`` (every key when None)."""
    keys = {r[8] for r in labelled}
    if keep is None:
        return keys
    teams = reads.project_teams(db)
    outside: set[str] = set()
    inside: set[str] = set()
    for node, _, _, project, owner, *_, key in labelled:
        n = fleet[node]
        values = {"project": project, "owner": owner, "provider": n.provider}
        values |= {"account": n.account, "team": teams.get(project), "node": node}
        if keep(values):
            inside.add(key)
        else:
            outside.add(key)
            out.hidden |= {key, project, owner}
    out.outside = len(inside & outside)
    return inside - outside


def _billed(db, fleet, labelled: list[Labelled], out: StepCosts) -> dict:
    """(node, day) → {currency: billed EffectiveCost} for the node-days billing covers and
    holds charges for; the covered ones without charges go to ``out.uncovered``."""
    through = billed_through(db)
    covered = {
        (node, day)
        for node, day, *_ in labelled
        if (last := through.get(cloud_of(fleet[node].provider or ""))) and day <= last.isoformat()
    }
    if not covered:
        return {}
    names = {node: fleet[node].instance_id or node for node, _ in covered}
    ids = node_costs.billing_ids(db, sorted(set(names.values())))
    by_name: dict[str, set[str]] = {}
    for node, name in names.items():
        by_name.setdefault(name, set()).add(node)
    days = sorted(day for _, day in covered)
    found = node_costs.billed_costs(
        db, sorted(ids), date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    )
    billed: dict[tuple[str, str], dict[str, float]] = {}
    for (rid, day, currency), amount in found.items():
        for node in by_name.get(ids[rid], ()):
            if (node, day) in covered:
                entry = billed.setdefault((node, day), {})
                entry[currency] = entry.get(currency, 0.0) + amount
    out.uncovered = {(fleet[n].hostname, d) for n, d in covered if (n, d) not in billed}
    return billed


def _price(fleet, book: PriceBook, labelled, kept: set[str], billed: dict, out) -> None:
    """The parts of the kept groups: a node-day's billed cost split by GPU-minutes over
    every group that ran on it, else GPU-minutes × the node's price per GPU."""
    day_minutes: dict[tuple[str, str], int] = {}
    for node, day, *_, minutes, _, _, _ in labelled:
        day_minutes[(node, day)] = day_minutes.get((node, day), 0) + minutes
    bases: dict[str, str] = {}
    for node, day, _, project, owner, minutes, _, _, key in labelled:
        if key not in kept:
            continue
        n = fleet[node]
        group = out.groups.setdefault(key, Group(key))
        group.nodes.add(n.hostname)
        group.projects.add(project)
        group.owners.add(owner)
        gpu_minutes = minutes * n.gpus
        if (node, day) in billed:
            share = minutes / day_minutes[(node, day)]
            for currency, amount in billed[(node, day)].items():
                part = Part(node, day, gpu_minutes, amount * share, currency, BILLED)
                group.parts.append(part)
                gpu_minutes = 0  # one node-day's minutes once, whatever its currencies
            continue
        price = book.node(n.provider, n.instance_type, n.spot, n.name, n.region, n.gpus)
        if price.per_gpu is None:
            out.unpriced.add(n.hostname)
            group.parts.append(Part(node, day, gpu_minutes, None, None, ESTIMATE))
            continue
        bases[node] = price.basis
        dollars = price.per_gpu * gpu_minutes / 60
        group.parts.append(Part(node, day, gpu_minutes, dollars, "USD", ESTIMATE))
    out.bases = bases


def _steps(db, fleet, fallback, labelled: list[Labelled], lo: str, hi: str, out) -> None:
    """Each kept job's steps and segments, and its nodes that report no counter."""
    for node, _, job, *_, _minutes, progress, _, key in labelled:
        group = out.groups.get(key)
        if group is None or not job:
            continue
        host = fleet[node].hostname
        group.minutes_with_progress[host] = group.minutes_with_progress.get(host, 0) + progress
    for group in out.groups.values():
        group.no_progress = {h for h, n in group.minutes_with_progress.items() if n == 0}
    counting = [(n.node, n.gpu, fallback.get(n.node)) for n in fleet.values()]
    series: dict[str, list[int]] = {}
    for job, _, counter in node_costs.job_progress(db, counting, lo, hi):
        if job in out.groups:
            series.setdefault(job, []).append(counter)
    for job, counters in series.items():
        out.groups[job].steps, out.groups[job].segments = count_steps(counters)


def _naive_utc(now: datetime) -> datetime:
    """The heartbeat tables' clock: naive UTC minutes."""
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def _minute_after(clock: datetime) -> str:
    """The first minute not counted: the minute ``now`` ends counts."""
    return (clock + timedelta(minutes=1)).strftime(MINUTE)
