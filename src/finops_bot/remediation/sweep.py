"""The idle sweep: a proposal to stop each GPU node that has been idle, idle with memory
held, or stalled for ``propose_after_minutes``, one open per resource and action. It reads
the fleet once; the cloud is read only for a new candidate (its owner tag, its disks, the
fingerprint the runner compares at click time, and the keep-until tag it respects)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from finops_bot.errors import FinopsError
from finops_bot.gpu.fleet import FleetRules, NodeState, fleet
from finops_bot.gpu.prices import PriceBook
from finops_bot.remediation.keeps_billing import keeps_billing
from finops_bot.remediation.registry import KEEP_TAG, Observed, Target
from finops_bot.remediation.rules import RemediationRules
from finops_bot.store import proposals as store
from finops_bot.store.proposals import StoredProposal, expires, stamp

log = logging.getLogger("finops_bot.remediation")
WASTED = ("idle", "idle, memory held", "stalled")


class Skip(Exception):
    """A candidate that is not proposed, and why (raised by a proposal's builder)."""


@dataclass(frozen=True)
class SweepResult:
    proposed: tuple[StoredProposal, ...]
    candidates: int  # nodes wasted long enough
    skipped: tuple[str, ...]  # "i-0abc: kept until … (tag)", "…: not running", read errors


def target_of(node: NodeState) -> Target | None:
    """The cloud resource a heartbeat node is, or None when it cannot be named."""
    instance_id, region, zone, account = node.place
    cloud = node.provider
    if cloud == "aws" and instance_id and region:
        return Target("aws", account or "", region, instance_id, node.instance_type, node.spot)
    if cloud == "gcp" and account and zone:  # GCE's hostname is the instance's name
        name = node.hostname.split(".", 1)[0]
        return Target("gcp", account, zone, name, node.instance_type, node.spot)
    if cloud == "azure" and instance_id:  # the agent reports the VM's ARM resource id
        from finops_bot.remediation.azure import target_from_resource_id

        return target_from_resource_id(instance_id, node.instance_type, node.spot)
    return None


def sweep(
    db: Database,
    now: datetime,
    rules: RemediationRules,
    clouds,
    prices: PriceBook,
    fleet_rules: FleetRules | None = None,
    nodes: list[NodeState] | None = None,
) -> SweepResult:
    """Propose for every node wasted for ``rules.propose_after_minutes``; the new ones.
    ``nodes``: the fleet already read (one read serves this sweep and the Spot advice)."""
    if not rules.active:
        return SweepResult((), 0, ())
    after = timedelta(minutes=rules.propose_after_minutes)
    naive = now.astimezone(UTC).replace(tzinfo=None)
    wasted = [
        n
        for n in (
            nodes
            if nodes is not None
            else fleet(db, now, prices, fleet_rules or FleetRules(), idle_only=True)
        )
        if n.state in WASTED and naive - n.since >= after
    ]
    open_now, snoozed = store.open_keys(db, "stop"), store.snoozed_keys(db, now)
    made, skipped = [], []
    for node in wasted:
        target = target_of(node)
        if target is None:
            skipped.append(f"{node.node}: its cloud account, zone or resource id is unknown")
            continue
        if (target.cloud, target.id) in open_now | snoozed:
            continue
        proposal, why = propose(node, target, now, rules, clouds)
        if proposal is None:
            skipped.append(f"{node.node}: {why}")
        elif record(db, now, proposal, rules):
            made.append(proposal)
    return SweepResult(tuple(made), len(wasted), tuple(skipped))


def record(db: Database, now: datetime, proposal: StoredProposal, rules: RemediationRules) -> bool:
    """Store a new proposal and audit it; False when one is already open for it."""
    if not store.insert(db, proposal):
        return False
    store.audit(
        db,
        now,
        "proposed",
        proposal,
        actor_user_id="sweep",
        mode=_mode(rules),
        after={"state": "proposed", "fingerprint": proposal.fingerprint},
    )
    return True


def _mode(rules: RemediationRules) -> str:
    return "dry-run" if rules.dry_run else "real"


def propose(
    node: NodeState, target: Target, now: datetime, rules: RemediationRules, clouds, build=None
) -> tuple[StoredProposal | None, str]:
    """Read the candidate (running? kept?) and build its proposal (``build``: the stop's)."""
    try:
        observed = clouds.reader(target.cloud).read(target)
    except FinopsError as exc:
        log.warning("sweep: cannot read %s: %s", target.id, exc)
        return None, f"cannot read it ({exc})"
    if not observed.found or observed.state != "running":
        return None, "not running" if observed.found else "not found in the cloud"
    kept = _kept_until(observed)
    if kept and kept > now:
        return None, f"kept until {stamp(kept)} ({KEEP_TAG} tag)"
    try:
        return (build or _proposal)(node, target, observed, now, rules), ""
    except Skip as why:
        return None, str(why)


def _kept_until(observed: Observed) -> datetime | None:
    raw = observed.tags.get(KEEP_TAG)
    try:
        return datetime.fromtimestamp(int(raw), UTC) if raw else None
    except (ValueError, OverflowError, OSError):
        return None


def _proposal(
    node: NodeState, target: Target, observed: Observed, now: datetime, rules: RemediationRules
) -> StoredProposal:
    keeps = keeps_billing(target.cloud, observed.disks_gb, observed.addresses)
    naive = now.astimezone(UTC).replace(tzinfo=None)
    hourly = node.hourly
    utils = [g.util for g in node.gpus if g.util is not None]
    evidence = {
        "state": node.state,
        "since": node.since.replace(tzinfo=UTC).isoformat(timespec="minutes"),
        "gpus": len(node.gpus),
        "util": round(sum(utils) / len(utils), 1) if utils else None,
        "idle_dollars": round(node.idle_dollars(naive) or 0.0, 2),
        "hourly": hourly,
        "price_basis": node.price_basis,
        "processes": node.processes,
        "memory_mb": round(node.memory_mb),
        "keeps_billing": keeps.describe(),
        "blockers": list(observed.blockers),
        "labelled_owner": node.owner,
        "group": observed.group,
        "observed": observed.summary(),
    }
    saving = None if hourly is None else round(max(hourly - keeps.hourly, 0.0), 4)
    return new_proposal(node, target, observed, now, rules, "stop", evidence, saving, keeps.hourly)


def new_proposal(
    node: NodeState,
    target: Target,
    observed: Observed,
    now: datetime,
    rules: RemediationRules,
    action: str,
    evidence: dict,
    saving: float | None,
    keeps_hourly: float | None,
) -> StoredProposal:
    """A proposal about ``target``: its owner and project from the cloud's tags (a label is
    only the project's fallback), an opaque id, a fresh nonce, the expiry."""
    owner = observed.tags.get(rules.owner_tag)  # the cloud's tag only: labels are display
    project = observed.tags.get(rules.project_tag) or node.project
    return StoredProposal(
        id="rp_" + secrets.token_hex(6),
        cloud=target.cloud,
        account=target.account,
        region=target.region,
        resource_id=target.id,
        instance_type=observed.type or target.type,
        spot=observed.spot if observed.spot is not None else target.spot,
        node=node.node,
        action=action,
        state="proposed",
        owner=owner,
        project=project,
        evidence=evidence,
        saving_per_hour=saving,
        keeps_billing_per_hour=None if keeps_hourly is None else round(keeps_hourly, 4),
        currency="USD",
        fingerprint=observed.fingerprint(),
        created_at=stamp(now),
        expires_at=expires(now, rules.expiry_hours),
        updated_at=stamp(now),
        nonce=store.new_nonce(),
    )


def target_of_proposal(p: StoredProposal) -> Target:
    return Target(p.cloud, p.account, p.region, p.resource_id, p.instance_type, p.spot)
