"""The one runner: every click on a proposal comes here, and here alone it is decided
whether it may act (access.may_remediate, from the owner tag read in the cloud now),
whether it acts at all (the kill switch, expiry, the card's nonce, the hourly limit),
whether the resource is still the one proposed (its fingerprint), and whether it runs for
real or only probes (dry-run: the actions never know). One conditional update moves a
proposal to approved, so a double click or a second process gets "already approved by
…" and nothing runs twice. Every click and every transition is audited."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from finops_bot.access import AccessPolicy, Identity, may_remediate
from finops_bot.errors import FinopsError
from finops_bot.remediation import lifecycle
from finops_bot.remediation.registry import Observed, Outcome, Target
from finops_bot.remediation.rules import RemediationRules
from finops_bot.remediation.sweep import target_of_proposal
from finops_bot.store import proposals as store
from finops_bot.store.proposals import StoredProposal, stamp

log = logging.getLogger("finops_bot.remediation")
SNOOZE_HOURS = 4
DOING = {"stop": "stop", "spot": "switch to Spot"}
MAX_KEEP_DAYS = 90


@dataclass(frozen=True)
class Actor:
    """Who clicked, as the bot resolved the signed Slack user id."""

    user_id: str
    email: str | None
    identity: Identity | None


@dataclass(frozen=True)
class Result:
    done: bool  # the click changed something
    message: str  # for the person who clicked
    proposal: StoredProposal | None = None  # as it is now: the card to redraw
    notify_owner: str | None = None  # the owner's DM, when someone else acted


class Refused(FinopsError):
    """A click that may not act; the message says why and what to do."""


class Runner:
    def __init__(self, rules: RemediationRules, access: AccessPolicy, clouds):
        self.rules, self.access, self.clouds = rules, access, clouds

    @property
    def mode(self) -> str:
        return "dry-run" if self.rules.dry_run else "real"

    # -- clicks -------------------------------------------------------------------------
    def stop(
        self, db: Database, proposal_id: str, nonce: str, actor: Actor, now: datetime
    ) -> Result:
        try:
            # a dry run's plan may be carried out once dry-run is off; in dry-run, once is enough
            states = ("proposed",) if self.rules.dry_run else ("proposed", "planned", "failed")
            p, target, observed, role = self._checked(
                db, proposal_id, nonce, actor, now, "stop", states=states
            )
            approved = {
                "decided_by": actor.user_id,
                "decided_at": stamp(now),
                "nonce": store.new_nonce(),
            }
            if not store.move(
                db, p.id, states, "approved", now, expect_nonce=nonce, unexpired=True, **approved
            ):
                raise Refused(self._why_not(db, p.id, nonce, now, states))
        except Refused as why:
            return self._refused(db, proposal_id, actor, now, "stop", str(why))
        self._audit(db, now, "approved", p, actor, before=self._fp(p), after={"role": role})
        p = store.get(db, p.id)
        try:
            result = self._execute(db, p, target, observed, actor, now)
        except Exception as exc:  # a probe's or a lookup's error must not leave it approved
            log.exception("remediation: stop of %s failed before its call", p.resource_id)
            error = str(exc) if isinstance(exc, FinopsError) else f"{type(exc).__name__}: {exc}"
            if store.move(db, p.id, ("approved",), "failed", now, result={"error": error}):
                self._audit(db, now, "failed", p, actor, error=error)
            result = Result(False, f"{_not_done(p)}: {error}.", store.get(db, p.id))
        return self._with_owner_note(result, p, actor, role, "stop")

    def snooze(
        self,
        db: Database,
        proposal_id: str,
        nonce: str,
        actor: Actor,
        now: datetime,
        until: datetime | None = None,
    ) -> Result:
        """[Snooze 4h] (no ``until``) or [Keep until…]: a row the sweep respects and, when
        not in dry-run, the keep-until tag on the resource."""
        until = until or now + timedelta(hours=SNOOZE_HOURS)
        try:
            if until <= now or until > now + timedelta(days=MAX_KEEP_DAYS + 1):
                raise Refused(f"pick a day from today to {MAX_KEEP_DAYS} days ahead")
            p, target, observed, role = self._checked(
                db, proposal_id, nonce, actor, now, "snooze", states=("proposed", "planned")
            )
            if not store.move(
                db,
                p.id,
                ("proposed", "planned"),
                "snoozed",
                now,
                expect_nonce=nonce,
                decided_by=actor.user_id,
                decided_at=stamp(now),
                snoozed_until=stamp(until),
                nonce=store.new_nonce(),
            ):
                raise Refused(self._why_not(db, p.id, nonce, now, ("proposed", "planned")))
        except Refused as why:
            return self._refused(db, proposal_id, actor, now, "snooze", str(why))
        tagged = self._keep_tag(db, p, target, observed, actor, now, until)
        self._audit(
            db,
            now,
            "snoozed",
            p,
            actor,
            action="snooze",
            after={"until": stamp(until), "tag": tagged},
        )
        p = store.get(db, p.id)
        when = until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        note = "" if tagged == "written" else f" (the {self._tag_note(tagged)})"
        result = Result(True, f"Snoozed until {when}: no proposal for it before then{note}.", p)
        return self._with_owner_note(result, p, actor, role, "snooze")

    def start(
        self, db: Database, proposal_id: str, nonce: str, actor: Actor, now: datetime
    ) -> Result:
        """[Start again] after a stop: the instance comes back as it was."""
        try:
            p, target, observed, role = self._checked(
                db, proposal_id, nonce, actor, now, "start", states=("succeeded",)
            )
            if self.rules.dry_run:  # stopped for real before dry-run was switched on
                return self._plan_start(db, p, target, observed, actor, now)
            if not store.move(
                db,
                p.id,
                ("succeeded",),
                "restarted",
                now,
                expect_nonce=nonce,
                nonce=store.new_nonce(),
                decided_by=actor.user_id,
                decided_at=stamp(now),
            ):
                raise Refused(self._why_not(db, p.id, nonce, now, ("succeeded",)))
        except Refused as why:
            return self._refused(db, proposal_id, actor, now, "start", str(why))
        outcome = self._call(db, p, "start", target, observed, actor, now)
        if not outcome.ok:  # as the stop left it
            store.move(
                db,
                p.id,
                ("restarted",),
                "succeeded",
                now,
                decided_by=p.decided_by,
                decided_at=p.decided_at,
            )
        p = store.get(db, p.id)
        if not outcome.ok:
            return Result(False, f"The start failed: {outcome.error}. Nothing else changed.", p)
        return self._with_owner_note(
            Result(True, f"Started {p.resource_id} again.", p), p, actor, role, "start"
        )

    def _plan_start(self, db, p, target, observed, actor, now) -> Result:
        probe = self.clouds.action(p.cloud, "start").probe(target, observed)
        self._audit(db, now, "planned", p, actor, action="start", after={"probe": probe.detail})
        verdict = "allowed" if probe.allowed else "DENIED"
        return Result(
            False,
            f"Dry run: would start {p.resource_id}; permission probe: {verdict} "
            f"({probe.detail}). Nothing was executed.",
        )

    def copy_plan(
        self, db: Database, proposal_id: str, nonce: str, actor: Actor, now: datetime
    ) -> Result:
        """[Copy plan]: the written steps, for the person who clicked (nothing changes; the
        click is audited). Anyone who may see the card may copy its plan while it lasts."""
        p = store.get(db, proposal_id)
        why = None
        if p is None or not p.evidence.get("plan"):
            why = "that plan is not known here"
        elif p.nonce != nonce or p.expires_at <= stamp(now):
            why = lifecycle.why_not(p, nonce, now, (p.state,))
        if why:
            return self._refused(db, proposal_id, actor, now, "plan", why)
        self._audit(db, now, "plan copied", p, actor, action="plan")
        steps = "\n".join(p.evidence["plan"])
        return Result(False, f"The plan for {p.resource_id} (nothing was done):\n```\n{steps}\n```")

    # -- checks -------------------------------------------------------------------------
    def _checked(self, db, proposal_id, nonce, actor, now, action, states=("proposed",)) -> tuple:
        if not self.rules.active:
            raise Refused("remediation is switched off ([remediation] enabled = false)")
        p = store.get(db, proposal_id)
        if p is None:
            raise Refused("that proposal is not known here (another cache, or removed)")
        self._audit(db, now, "clicked", p, actor, action=action)
        if p.state == "failed" and p.action != "spot":  # only a switch resumes where it stopped
            states = tuple(x for x in states if x != "failed")
        if action == "start" and p.action != "stop":
            raise Refused("only a stopped instance can be started again")
        if (
            p.state not in states
            or p.nonce != nonce
            or (action != "start" and p.expires_at <= stamp(now))
        ):
            raise Refused(self._why_not(db, p.id, nonce, now, states))
        target = target_of_proposal(p)
        observed = self._read(target)
        tags = observed.tags if observed.found else {}
        owner = tags.get(self.rules.owner_tag)
        # the project that decides require_approver and its approvers: the cloud's tag,
        # else the proposal's (from labels: it may only add a rule, never lift one)
        projects = {tags.get(self.rules.project_tag) or p.project, p.project}
        need = action == "stop" and (  # a switch to Spot always needs an approver
            p.action == "spot" or any(self.rules.project(x).require_approver for x in projects)
        )
        if action == "stop" and p.evidence.get("plan_only"):
            raise Refused("this one is a written plan (it cannot switch in place): use its steps")
        approvers = self.rules.approvers_for(tags.get(self.rules.project_tag) or p.project)
        values = {
            "project": tags.get(self.rules.project_tag) or p.project,
            "owner": owner,
            "provider": p.cloud,
            "account": p.account,
        }
        role, why = may_remediate(
            self.access, actor.identity, actor.email, owner, approvers, need, values
        )
        if role is None:
            outsider = actor.identity is None or actor.identity.outsider
            who = " (it has no owner tag)" if not owner else "" if outsider else f" ({owner})"
            raise Refused(f"{why}{who}; ask {self.access.contact or 'an approver'}")
        return p, target, observed, role

    def _why_not(
        self,
        db: Database,
        proposal_id: str,
        nonce: str,
        now: datetime,
        allowed: tuple[str, ...] = ("proposed",),
    ) -> str:
        return lifecycle.why_not(store.get(db, proposal_id), nonce, now, allowed)

    def _read(self, target: Target) -> Observed:
        try:
            return self.clouds.reader(target.cloud).read(target)
        except FinopsError as exc:
            raise Refused(f"the cloud could not be read ({exc})") from None

    # -- execution ------------------------------------------------------------------------
    def _execute(self, db, p: StoredProposal, target, observed, actor, now) -> Result:
        diff = lifecycle.changed(p, observed)
        if diff:
            store.move(db, p.id, ("approved",), "superseded", now, result={"reason": diff})
            self._audit(
                db,
                now,
                "superseded",
                p,
                actor,
                before=self._fp(p),
                after=observed.summary(),
                error=diff,
            )
            return Result(
                False, f"{_not_done(p)}: {diff}. The proposal is superseded.", store.get(db, p.id)
            )
        action = self.clouds.action(p.cloud, p.action)
        refusal = action.refusal(target, observed)
        plan = lifecycle.plan_of(p, observed)
        if self.rules.dry_run:
            probe = action.probe(target, observed) if refusal is None else None
            result = {
                "plan": plan,
                "refusal": refusal,
                "dry_run": True,
                "probe": {"allowed": probe.allowed, "detail": probe.detail} if probe else None,
            }
            store.move(db, p.id, ("approved",), "planned", now, result=result)
            self._audit(db, now, "planned", p, actor, after=result, error=refusal)
            return Result(
                True, "Dry run: nothing was executed. The plan is on the card.", store.get(db, p.id)
            )
        if refusal:
            store.move(db, p.id, ("approved",), "failed", now, result={"refusal": refusal})
            self._audit(db, now, "failed", p, actor, error=f"refused: {refusal}")
            return Result(False, f"{_not_done(p)}: {refusal}.", store.get(db, p.id))
        claimed = store.claim_execution(
            db,
            p,
            now - timedelta(hours=1),
            self.rules.max_actions_per_hour,
            now,
            {"plan": plan},
            self._fields(actor, action=p.action, before=observed.summary()),
        )
        if not claimed:  # the hourly limit, counted and claimed in one write transaction
            store.move(db, p.id, ("approved",), "proposed", now, decided_by=None, decided_at=None)
            why = (
                f"the limit of {self.rules.max_actions_per_hour} actions an hour in "
                f"{p.cloud} account {p.account or '(default)'} is reached; try again later"
            )
            self._audit(db, now, "refused", p, actor, error=why)
            return Result(False, f"{_not_done(p)}: {why}.", store.get(db, p.id))
        outcome = self._run(db, p, p.action, target, observed, actor, now)
        state = "succeeded" if outcome.ok else "failed"
        store.move(db, p.id, ("executing",), state, now, result=lifecycle.result_of(plan, outcome))
        q = store.get(db, p.id)
        if outcome.ok:
            verb = "Switched to Spot:" if p.action == "spot" else "Stopped"
            return Result(True, f"{verb} {p.resource_id} ({outcome.detail}).", q)
        return Result(False, f"The {DOING.get(p.action, p.action)} failed: {outcome.error}", q)

    def _call(self, db, p, name: str, target, observed, actor, now, **params) -> Outcome:
        """A real cloud call, audited before ("executing") and after."""
        self._audit(db, now, "executing", p, actor, action=name, before=observed.summary())
        return self._run(db, p, name, target, observed, actor, now, **params)

    def _run(self, db, p, name: str, target, observed, actor, now, **params) -> Outcome:
        """The cloud call itself, audited after; never raises."""
        try:
            outcome = self.clouds.action(p.cloud, name).run(
                target, observed, f"{p.id}-{name}", **params
            )
        except FinopsError as exc:
            outcome = Outcome(False, error=str(exc))
        except Exception as exc:  # an SDK's surprise must not leave the row executing
            log.exception("remediation %s on %s failed", name, p.resource_id)
            outcome = Outcome(False, error=f"{type(exc).__name__}: {exc}")
        event = "succeeded" if outcome.ok else "failed"
        self._audit(
            db,
            now,
            event,
            p,
            actor,
            action=name,
            cloud_request_id=outcome.request_id,
            after={"state": outcome.state, "detail": outcome.detail},
            error=outcome.error,
        )
        return outcome

    def _keep_tag(self, db, p, target, observed, actor, now, until: datetime) -> str:
        if self.rules.dry_run:
            return "dry-run"
        outcome = self._call(
            db, p, "keep", target, observed, actor, now, until=int(until.timestamp())
        )
        return "written" if outcome.ok else f"failed: {outcome.error}"

    @staticmethod
    def _tag_note(tagged: str) -> str:
        if tagged == "dry-run":
            return "keep-until tag is not written in dry-run"
        return f"keep-until tag could not be written: {tagged[8:]}"

    # -- bookkeeping ------------------------------------------------------------------------
    def _refused(self, db, proposal_id, actor, now, action, why: str) -> Result:
        p = store.get(db, proposal_id)
        self._audit(
            db,
            now,
            "refused",
            p,
            actor,
            action=action,
            error=why,
            resource=None if p else proposal_id,
        )
        log.info("remediation: %s refused for %s: %s", action, actor.user_id, why)
        return Result(False, f"{why[0].upper()}{why[1:]}. Nothing was changed.", None)

    def _fields(self, actor: Actor | None, **fields) -> dict:
        fields.setdefault("mode", self.mode)
        if actor is not None:
            fields.setdefault("actor_user_id", actor.user_id)
            fields.setdefault("actor_email", actor.email)
        return fields

    def _audit(self, db, now, event, p, actor: Actor | None, **fields) -> None:
        store.audit(db, now, event, p, **self._fields(actor, **fields))

    @staticmethod
    def _fp(p: StoredProposal) -> dict:
        return {"state": p.state, "fingerprint": p.fingerprint}

    @staticmethod
    def _with_owner_note(result: Result, p, actor: Actor, role: str, action: str) -> Result:
        if not result.done or role == "owner" or not p or not p.owner:
            return result
        verb = {"stop": "acted on", "snooze": "snoozed", "start": "started again"}[action]
        note = (
            f"<@{actor.user_id}> {verb} your instance {p.resource_id} "
            f"({p.instance_type or '?'}): {result.message}"
        )
        return Result(result.done, result.message, result.proposal, note)

    # -- housekeeping (remediation.lifecycle) ----------------------------------------------
    def expire(self, db: Database, now: datetime) -> list[StoredProposal]:
        return lifecycle.expire(self, db, now)

    def recover(self, db: Database, now: datetime) -> list[StoredProposal]:
        return lifecycle.recover(self, db, now)


def _not_done(p: StoredProposal | None) -> str:
    return "Not switched to Spot" if p is not None and p.action == "spot" else "Not stopped"
