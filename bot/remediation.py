"""Remediation, composed once: the clouds (the demo's in-memory cloud for a cache the demo
built, else the real SDKs through injected client factories), the runner, and who clicked
(resolved from the signed Slack user id through People). Listeners, jobs and the CLI call
this; the decisions are all the runner's (finops_bot.remediation.runner)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from bot.clock import fleet_now
from bot.people import People
from finops_bot.access import AccessPolicy, Audience, Identity, scope_for
from finops_bot.gpu.fleet import FleetRules, fleet
from finops_bot.gpu.prices import PriceBook
from finops_bot.remediation.demo_cloud import DemoCloud
from finops_bot.remediation.registry import Clouds
from finops_bot.remediation.rules import RemediationRules
from finops_bot.remediation.runner import Actor, Result, Runner
from finops_bot.remediation.spot import spot_sweep
from finops_bot.remediation.sweep import SweepResult, sweep
from finops_bot.render.proposals import (
    FIX_KEEP,
    FIX_PLAN,
    FIX_SNOOZE,
    FIX_START,
    FIX_STOP,
    audit_lines,
    kind_words,
    parse_value,
    proposal_blocks,
    title,
)
from finops_bot.store import connect
from finops_bot.store import proposals as store
from finops_bot.store.proposals import StoredProposal
from finops_bot.store.reads import demo_fleet_end

log = logging.getLogger("finops_bot.remediation")


def sdk_factories() -> dict[str, Callable]:
    """Real clients from each SDK's default credentials, built on first use and kept
    (boto3's default session; Google's application default credentials; Azure's
    DefaultAzureCredential). Nothing is imported or built until a cloud is called."""
    made: dict[tuple, object] = {}

    def once(key: tuple, build: Callable[[], object]) -> object:
        if key not in made:
            made[key] = build()
        return made[key]

    def aws(service: str, target) -> object:
        from finops_bot.adaptors import boto3

        session = once(("aws",), boto3.Session)
        return once(
            ("aws", service, target.region),
            lambda: session.client(service, region_name=target.region),
        )

    def gcp(service: str, target) -> object:
        from finops_bot.adaptors import compute_v1

        return once(("gcp", service), compute_v1.InstancesClient)

    def azure(service: str, target) -> object:
        from finops_bot.adaptors import azure_compute, azure_identity

        credential = once(("azure",), azure_identity.DefaultAzureCredential)
        return once(
            ("azure", target.account),
            lambda: azure_compute.ComputeManagementClient(credential, target.account),
        )

    return {"aws": aws, "gcp": gcp, "azure": azure}


@dataclass
class Click:
    result: Result
    blocks: list[dict] | None  # the redrawn card, when there is one
    text: str


class Remediation:
    def __init__(
        self,
        db_path: Path,
        rules: RemediationRules,
        access: AccessPolicy,
        people: People | None,
        prices: PriceBook,
        fleet_rules: FleetRules | None = None,
        clouds=None,
    ):
        self.db_path, self.rules, self.access, self.people = db_path, rules, access, people
        self.prices, self.fleet_rules = prices, fleet_rules or FleetRules()
        self._clouds = clouds
        self._demo: DemoCloud | None = None

    def clouds(self, db):
        """The injected clouds; else the demo's cloud for a cache the demo built (never
        otherwise); else the real SDKs."""
        if self._clouds is not None:
            return self._clouds
        if demo_fleet_end(db) is not None:
            self._demo = self._demo or DemoCloud.of_demo_fleet()
            return self._demo
        self._clouds = Clouds(sdk_factories())
        return self._clouds

    def runner(self, db) -> Runner:
        return Runner(self.rules, self.access, self.clouds(db))

    def actor(self, user_id: str) -> Actor:
        if self.people is None:
            return Actor(user_id, None, Identity(user_id, external=True))
        groups = self.access.groups() | {a for a in self.rules.approvers if a.startswith("S")}
        for _, rule in self.rules.projects:
            groups |= {a for a in rule.approvers if a.startswith("S")}
        return Actor(user_id, self.people.email_of(user_id), self.people.identity(user_id, groups))

    def click(
        self,
        user_id: str,
        action_id: str,
        value: str | None,
        now: datetime,
        picked: str | None = None,
    ) -> Click:
        """One signed click on a card: the runner decides; the card to redraw comes back."""
        parsed = parse_value(value)
        if parsed is None:
            return Click(
                Result(False, "That button is not known here. Nothing was changed."), None, ""
            )
        pid, nonce = parsed
        db = connect(self.db_path)
        try:
            runner, actor, now = self.runner(db), self.actor(user_id), fleet_now(db, now)
            if action_id == FIX_STOP:
                result = runner.stop(db, pid, nonce, actor, now)
            elif action_id == FIX_SNOOZE:
                result = runner.snooze(db, pid, nonce, actor, now)
            elif action_id == FIX_START:
                result = runner.start(db, pid, nonce, actor, now)
            elif action_id == FIX_KEEP:
                result = runner.snooze(db, pid, nonce, actor, now, keep_until(picked))
            elif action_id == FIX_PLAN:
                return Click(runner.copy_plan(db, pid, nonce, actor, now), None, "")
            else:
                result = Result(False, "That button is not known here. Nothing was changed.")
            if result.proposal is None:
                return Click(result, None, "")
            blocks, text = self.card(db, result.proposal, now)
            return Click(result, blocks, text)
        finally:
            db.close()

    def card(self, db, p: StoredProposal, now: datetime) -> tuple[list[dict], str]:
        """The card as it is now, with a fresh nonce (older cards go out of date)."""
        p.nonce = store.rotate(db, p.id)
        return proposal_blocks(p, now), f"{kind_words(p)} {title(p)}: {p.state}"

    def owner_user(self, p: StoredProposal) -> str | None:
        """The owner's Slack user id (the owner tag holds an email or a user id)."""
        owner = (p.owner or "").strip()
        if owner.startswith("U") and "@" not in owner:  # "Uma@acme.ai" is an email
            return owner
        return self.people.user_of(owner) if self.people and "@" in owner else None

    def audit_for(self, user_id: str, resource: str, channel_id: str | None) -> str:
        """`/finops audit i-0abc`: the events of the proposals the asker may see (their
        grants and the channel's, as for an ephemeral answer)."""
        who = self.actor(user_id).identity
        scope = scope_for(self.access, who, Audience("ephemeral", channel_id))
        db = connect(self.db_path)
        try:
            seen = {p.id for p in store.listed(db, (), resource) if scope.admits(_values(p))}
            events = store.audit_events(db, resource, proposal_ids=seen) if seen else []
        finally:
            db.close()
        if not events:
            return (
                f"No remediation events for {resource} that you may see. "
                "`/finops audit <instance id>` shows an instance's clicks and actions."
            )
        lines = audit_lines(events)[-40:]
        return f"Remediation audit for {resource} (latest {len(lines)}):\n" + "\n".join(lines)

    def sweeps(self, now: datetime) -> tuple[SweepResult, SweepResult]:
        """The idle sweep (stop) and the Spot advice, in that order."""
        db = connect(self.db_path)
        try:
            now = fleet_now(db, now)
            args = (db, now, self.rules, self.clouds(db), self.prices, self.fleet_rules)
            if not self.rules.active:
                return sweep(*args), spot_sweep(*args)
            nodes = fleet(db, now, self.prices, self.fleet_rules)  # one read for both
            return sweep(*args, nodes=nodes), spot_sweep(*args, nodes=nodes)
        finally:
            db.close()

    def sweep(self, now: datetime) -> SweepResult:
        idle, spot = self.sweeps(now)
        return SweepResult(
            idle.proposed + spot.proposed,
            idle.candidates + spot.candidates,
            idle.skipped + spot.skipped,
        )

    def housekeeping(self, now: datetime) -> list[StoredProposal]:
        """Expired proposals (and, at start, interrupted executions): cards to redraw."""
        db = connect(self.db_path)
        try:
            return self.runner(db).expire(db, fleet_now(db, now))
        finally:
            db.close()

    def recover(self, now: datetime) -> list[StoredProposal]:
        db = connect(self.db_path)
        try:
            return self.runner(db).recover(db, fleet_now(db, now))
        finally:
            db.close()


def _values(p: StoredProposal) -> dict:
    return {"project": p.project, "owner": p.owner, "provider": p.cloud, "account": p.account}


def service_of(deps, people: People | None = None) -> Remediation:
    """The service from the settings (serve, the CLI)."""
    s = deps.settings
    return Remediation(s.db_path, s.remediation, s.access, people, deps.prices, s.fleet)


def keep_until(picked: str | None) -> datetime | None:
    """A datepicker's day → the end of that day, UTC (the runner refuses a past one)."""
    try:
        day = date.fromisoformat(str(picked))
        return datetime.combine(day + timedelta(days=1), time(0), UTC)
    except (ValueError, OverflowError):  # refused by the runner with a clear line
        return datetime(1970, 1, 1, tzinfo=UTC)
