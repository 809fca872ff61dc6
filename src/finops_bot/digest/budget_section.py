"""The daily digest's budgets: each budget the digest's audience may see (spent, forecast,
at risk), the crossings recorded since the day before, and the crossings a restatement
un-did that no digest has noted yet (noted once the digest is posted)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlite_utils import Database

from finops_bot.digest.daily import DailyDigest
from finops_bot.forecast import budgets
from finops_bot.forecast.budget_rules import Budget
from finops_bot.questions.scoping import View
from finops_bot.store import budget_ledger, reads


def add_budgets(
    digest: DailyDigest,
    db: Database,
    view: View,
    rules: Sequence[Budget],
    today: date,
    now: datetime,
    measure: str,
    fiscal_start: int = 1,
    live=None,
) -> DailyDigest:
    if not rules or digest.empty:
        return digest
    teams = reads.project_teams(db) if view.limited else {}
    shown = budgets.visible(rules, view.scope if view.limited else None, teams)
    digest.budgets = [budgets.status(db, b, today, measure, fiscal_start, live) for b in shown]
    names = {b.name for b in shown}
    since = (now - timedelta(days=1)).isoformat(timespec="seconds")
    for c in budget_ledger.crossings(db):
        if c.budget in names and c.crossed_at >= since and c.uncrossed_at is None:
            digest.crossings.append(c)
    digest.uncrossed = [c for c in budget_ledger.unnoted(db) if c.budget in names]
    return digest
