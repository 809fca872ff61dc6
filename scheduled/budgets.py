"""The budget ladder, checked every 15 minutes: each budget's new crossings (store.
budget_ledger records them once, so a restart or a second process never records one
twice) are posted to its channel and DMed to its scope's owners. Each post is claimed in
the digest ledger keyed by the crossing, so it happens at most once per target even when
two processes check at once; a crossing a restatement un-did is not posted. A channel
whose access grant does not admit the budget's scope gets nothing (logged). ``now`` from
bot/'s clock; ``send`` and ``user_of`` (an email → a Slack user id) injected."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler

from finops_bot.access import AccessPolicy, channel_scope
from finops_bot.digest.rules import DigestRules
from finops_bot.forecast import budgets
from finops_bot.forecast.budget_rules import Budget, BudgetRules
from finops_bot.gpu.burn import live_estimate
from finops_bot.gpu.prices import PriceBook
from finops_bot.render.blocks import escape
from finops_bot.render.outlook import crossing_text
from finops_bot.store import budget_ledger, connect, ledger, reads
from scheduled.alerts import _section

log = logging.getLogger("finops_bot.budgets")


def owners_of(db, budget: Budget, routing: DigestRules) -> list[str]:
    """The emails a budget's crossings are DMed to: its project's owner, its team's
    projects' owners, the owner it is for; none for all spend, untagged or a provider."""
    if budget.dim == "owner":
        return [budget.value]
    if budget.dim == "project":
        owner = routing.owner_of(budget.value)
        return [owner] if owner else []
    if budget.dim == "team":
        teams = reads.project_teams(db)
        return sorted({o for p, o in routing.owners if teams.get(p) == budget.value})
    return []


def check(
    db_path: Path,
    rules: BudgetRules,
    routing: DigestRules,
    now: datetime,
    send: Callable[[str, str, list], str],
    user_of: Callable[[str], str | None],
    *,
    measure: str,
    fiscal_start: int = 1,
    prices: PriceBook | None = None,
    access: AccessPolicy | None = None,
) -> list[str]:
    """The job body → the posts made ("budget:NAME:THRESHOLD → TARGET")."""
    if not rules.budgets:
        return []
    db = connect(db_path)
    posted: list[str] = []
    try:

        def live(start, end, keep):
            return live_estimate(db, prices or PriceBook(), start, end, now, keep)

        today = now.date()
        for checked in budgets.check(db, rules.budgets, today, now, measure, fiscal_start, live):
            s = checked.status
            for c in budget_ledger.crossings(db, s.budget.name, s.start.isoformat()):
                if c.uncrossed_at is None:
                    posted += _post(db, s, c, routing, now, send, user_of, access)
    finally:
        db.close()
    return posted


def _post(db, s, c, routing, now, send, user_of, access) -> list[str]:
    text = escape(crossing_text(s, c.threshold))
    targets = []
    channel = s.budget.channel
    if channel:
        scope = channel_scope(access, channel) if access is not None else None
        teams = reads.project_teams(db)
        if scope is None or budgets.visible([s.budget], scope, teams):
            targets.append(channel)
        else:
            log.warning("budget %s: channel %s may not see %s; not posted there",
                        s.budget.name, channel, s.budget.scope)  # fmt: skip
    for email in owners_of(db, s.budget, routing):
        user = user_of(email)
        if user and not ledger.muted(db, user, now):
            targets.append(user)
    done = []
    for target in targets:
        claim = ledger.claim(db, c.post_key, target, c.period_start, now)
        if claim is None:
            continue
        try:
            ts = send(target, text, [_section(text)])
        except Exception as exc:  # noqa: BLE001 - recorded; retried once by the ledger
            ledger.failed(db, claim, f"{type(exc).__name__}: {exc}")
            log.warning("budget %s post to %s failed", c.post_key, target, exc_info=True)
            continue
        ledger.posted(db, claim, ts, now)
        done.append(f"{c.post_key} → {target}")
    return done


def register(scheduler: BaseScheduler, job: Callable[[], object]) -> str:
    return scheduler.add_job(
        job, "interval", minutes=15, id="budget-ladder", name="budget ladder",
        coalesce=True, max_instances=1, replace_existing=True,
    ).id  # fmt: skip
