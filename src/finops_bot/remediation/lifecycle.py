"""A proposal's life outside clicks: expiry (its buttons go; nothing happens without a
click), recovery at start (an execution a previous process left unfinished is read back
from the cloud), and the words the runner and the cards use: what changed, the plan, the
outcome."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from finops_bot.errors import FinopsError
from finops_bot.remediation.registry import Observed, Outcome
from finops_bot.remediation.sweep import target_of_proposal
from finops_bot.store import proposals as store
from finops_bot.store.proposals import StoredProposal, stamp


def expire(runner, db: Database, now: datetime) -> list[StoredProposal]:
    """Proposals past their expiry: their buttons go; nothing happens without a click."""
    out = []
    for p in store.due_to_expire(db, now):
        if store.move(db, p.id, ("proposed", "planned"), "expired", now):
            runner._audit(db, now, "expired", p, None, actor_user_id="bot")
            out.append(store.get(db, p.id))
    return out


def recover(runner, db: Database, now: datetime) -> list[StoredProposal]:
    """At start: proposals a previous process left ``executing`` are read from the cloud
    and completed (the stop took) or marked failed."""
    out = []
    for p in store.listed(db, ("executing",)):
        try:
            observed = runner._read(target_of_proposal(p))
            done = observed.found and (
                observed.state in ("stopped", "stopping")
                if p.action == "stop"
                else bool(observed.spot) and observed.state == "running"
            )
            why = None if done else f"interrupted by a restart; the instance is {observed.state}"
        except FinopsError as exc:
            done, why = False, f"interrupted by a restart; {exc}"
        state = "succeeded" if done else "failed"
        if store.move(
            db,
            p.id,
            ("executing",),
            state,
            now,
            result={**p.result, "recovered": True, "error": why},
        ):
            runner._audit(db, now, f"recovered {state}", p, None, actor_user_id="bot", error=why)
            out.append(store.get(db, p.id))
    return out


def changed(p: StoredProposal, observed: Observed) -> str | None:
    """What changed since the proposal (its state, type, launch time, tags), in words."""
    if p.fingerprint is None or observed.fingerprint() == p.fingerprint:
        return None
    if p.action == "spot" and _same_but_state(p, observed):
        return None  # a switch that stopped halfway resumes: its action reads each step
    if not observed.found:
        return "the instance no longer exists"
    then = p.evidence.get("observed") or {}
    now = observed.summary()
    parts = [
        f"its {k} changed from {then.get(k)!s} to {now.get(k)!s}"
        for k in ("state", "type", "launched")
        if then.get(k) != now.get(k) and not (k == "state" and p.action == "spot")
    ]
    if not parts:
        parts.append("its tags changed")
    return "; ".join(parts)


def plan_of(p: StoredProposal, observed: Observed) -> list[str]:
    where = f"in {p.cloud} {p.account or '(default account)'} {p.region}"
    what = f"{p.resource_id} ({p.instance_type or '?'})"
    if p.action == "spot" and observed.group:
        return [
            f"set group {observed.group}'s on-demand share above base capacity to 0 %: "
            "new instances launch as Spot; running ones are replaced as the group cycles"
        ]
    if p.action == "spot":
        return [
            f"stop {what} {where}",
            "set its scheduling to Spot (termination action STOP, on-host maintenance TERMINATE)",
            "start it",
        ]
    steps = []
    if observed.group:
        steps.append(f"detach it from group {observed.group} (desired capacity −1)")
    verb = "deallocate" if p.cloud == "azure" else "stop"
    steps.append(f"{verb} {what} {where}")
    return steps


def result_of(plan: list[str], outcome: Outcome) -> dict:
    return {
        "plan": plan,
        "request_id": outcome.request_id,
        "state": outcome.state,
        "detail": outcome.detail,
        "error": outcome.error,
    }


def why_not(
    p: StoredProposal | None, nonce: str, now: datetime, allowed: tuple[str, ...] = ("proposed",)
) -> str:
    """Why a click on this card does nothing, in words: who got there first and when, the
    expiry, or an out-of-date card."""
    if p is None:
        return "that proposal is not known here"
    at = (p.decided_at or p.updated_at)[11:16]
    by = f"<@{p.decided_by}>" if p.decided_by else "the bot"
    said = {
        "approved": f"already approved by {by} at {at} UTC",
        "executing": f"already being carried out (approved by {by} at {at} UTC)",
        "succeeded": f"already done by {by} at {at} UTC",
        "planned": f"already planned (dry run) by {by} at {at} UTC",
        "snoozed": f"snoozed by {by} until {(p.snoozed_until or '')[:16]} UTC",
        "expired": f"this proposal expired at {p.expires_at[:16]} UTC",
        "superseded": "superseded: the instance changed since it was proposed",
        "failed": "it failed earlier; a new proposal comes with the next sweep",
        "restarted": f"already started again by {by} at {at} UTC",
    }
    if p.state in said and p.state not in allowed:
        return said[p.state]
    if p.expires_at <= stamp(now):
        return f"this proposal expired at {p.expires_at[:16]} UTC"
    if p.nonce != nonce:
        return "this card is out of date; use the newest card"
    return said.get(p.state, f"it is {p.state}")


def _same_but_state(p: StoredProposal, observed: Observed) -> bool:
    from dataclasses import replace

    then = (p.evidence.get("observed") or {}).get("state")
    return observed.found and replace(observed, state=then).fingerprint() == p.fingerprint
