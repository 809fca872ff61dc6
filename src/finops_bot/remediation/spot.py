"""Spot advice: a proposal to move a **busy** on-demand GPU node onto Spot, only when its
work has shown it survives an interruption (gpu.resume: the checkpoints label, or progress
that went on after a restart); the saving from dated price tables (the [gpu_prices] config,
the GCP catalog, the bundled table: the quote's date is shown), the interruption notice
per cloud, and the expected cost of interruptions, stated as an assumption. GCP VMs and AWS
Auto Scaling groups switch with a click (an approver's: owners alone may not); an AWS
standalone instance or an Azure VM gets a written plan instead of a button that pretends."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from sqlite_utils import Database

from finops_bot.gpu.fleet import FleetRules, NodeState, fleet
from finops_bot.gpu.prices import PriceBook
from finops_bot.gpu.resume import resumable
from finops_bot.remediation.registry import Observed, Target
from finops_bot.remediation.rules import RemediationRules
from finops_bot.remediation.sweep import (
    Skip,
    SweepResult,
    new_proposal,
    propose,
    record,
    target_of,
)
from finops_bot.store import proposals as store

NOTICE = {"aws": "2 minutes", "gcp": "30 seconds", "azure": "30 seconds"}
INTERRUPTIONS_PER_DAY = 1.0  # an assumption, shown with the saving
LOST_MINUTES = 15  # work redone after each interruption (since the last checkpoint)
NOT_RESUMABLE = (
    "not advised onto Spot: nothing shows its job can resume "
    "(labels.checkpoints = true, or progress that went on after a restart)"
)


def quote(prices: PriceBook, node: NodeState) -> tuple[float, float, str] | None:
    """(on-demand $/h, Spot $/h, where the prices come from) or None without a Spot price."""
    name = node.gpus[0].name if node.gpus else None
    region, gpus = node.place[1], len(node.gpus) or None
    on_demand = prices.node(node.provider, node.instance_type, False, name, region, gpus)
    spot = prices.node(node.provider, node.instance_type, True, name, region, gpus)
    if on_demand.hourly is None or spot.hourly is None or spot.hourly >= on_demand.hourly:
        return None
    if on_demand.basis != spot.basis:  # GPU-only catalog prices vs a whole instance: no quote
        return None
    return on_demand.hourly, spot.hourly, spot.basis or "unknown"


def interruption_cost(spot_hourly: float) -> float:
    """$/h the assumed interruptions cost: the work redone after each, at the Spot price."""
    return INTERRUPTIONS_PER_DAY * LOST_MINUTES / 60 * spot_hourly / 24


def written_plan(target: Target, observed: Observed) -> list[str] | None:
    """The steps for a resource that cannot switch in place (None: it can, with a click)."""
    from finops_bot.remediation.aws_spot import azure_plan, standalone_plan

    if target.cloud == "aws" and not observed.group:
        return standalone_plan(target, observed)
    if target.cloud == "azure":
        return azure_plan(target, observed)
    return None


def spot_sweep(
    db: Database,
    now: datetime,
    rules: RemediationRules,
    clouds,
    prices: PriceBook,
    fleet_rules: FleetRules | None = None,
    nodes: list[NodeState] | None = None,
) -> SweepResult:
    """A Spot proposal for each busy on-demand node whose work can resume; the new ones."""
    if not rules.active:
        return SweepResult((), 0, ())
    fleet_rules = fleet_rules or FleetRules()
    prices = prices.with_catalog(db)  # GCP: the Catalog prices a gcp_cloud_billing source loaded
    nodes = nodes if nodes is not None else fleet(db, now, prices, fleet_rules)
    busy = [n for n in nodes if n.state == "busy" and n.spot is False]
    why = resumable(db, [n.node for n in busy], fleet_rules.silent_minutes)
    open_now, made, skipped = store.open_keys(db, "spot") | store.snoozed_keys(db, now), [], []
    for node in busy:
        target, price = target_of(node), quote(prices, node)
        if node.node not in why or target is None or price is None:
            reason = (
                NOT_RESUMABLE
                if node.node not in why
                else (
                    "its cloud account, zone or resource id is unknown"
                    if target is None
                    else "no Spot price below on-demand is known for it"
                )
            )
            skipped.append(f"{node.node}: {reason}")
            continue
        if (target.cloud, target.id) in open_now:
            continue
        build = partial(_spot_proposal, why=why[node.node], price=price, clouds=clouds)
        proposal, reason = propose(node, target, now, rules, clouds, build)
        if proposal is None:
            skipped.append(f"{node.node}: {reason}")
        elif record(db, now, proposal, rules):
            made.append(proposal)
    return SweepResult(tuple(made), len(busy), tuple(skipped))


def _spot_proposal(
    node: NodeState,
    target: Target,
    observed: Observed,
    now: datetime,
    rules: RemediationRules,
    why: str,
    price: tuple,
    clouds=None,
) -> object:
    on_demand, spot, basis = price
    lost = interruption_cost(spot)
    if on_demand - spot - lost <= 0:
        raise Skip("Spot saves nothing once the assumed interruptions are counted")
    plan = written_plan(target, observed)
    if plan is None and clouds is not None:  # a button only where the switch would run
        refusal = clouds.action(target.cloud, "spot").refusal(target, observed)
        if refusal:
            raise Skip(f"not switchable to Spot: {refusal}")
    evidence = {
        "state": node.state,
        "since": node.since.replace(tzinfo=UTC).isoformat(timespec="minutes"),
        "gpus": len(node.gpus),
        "hourly": on_demand,
        "spot_hourly": spot,
        "price_basis": basis,
        "resume": why,
        "notice": NOTICE.get(target.cloud, "short"),
        "interruption_cost_per_hour": round(lost, 4),
        "assumption": f"{INTERRUPTIONS_PER_DAY:g} interruption a day, {LOST_MINUTES} minutes "
        "of work redone after each",
        "plan": plan,
        "plan_only": plan is not None,
        "blockers": list(observed.blockers),
        "labelled_owner": node.owner,
        "group": observed.group,
        "observed": observed.summary(),
    }
    saving = round(on_demand - spot - lost, 4)
    return new_proposal(node, target, observed, now, rules, "spot", evidence, saving, None)
