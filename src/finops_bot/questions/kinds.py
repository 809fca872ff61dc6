"""Two tables of answer kinds the engine routes before it resolves a billing subject: the
kinds read from the heartbeats first (the fleet; billed cost only where billing covers),
and the kinds only admins see (they belong to no project: a commitment's unused part, an
invoice's total, charges without a project tag)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlite_utils import Database

from finops_bot.access import Scope
from finops_bot.gpu.fleet import FleetRules
from finops_bot.gpu.prices import PriceBook
from finops_bot.questions.answer import Answer
from finops_bot.questions.commitment_answers import ORG_WIDE as ORG_WIDE_COMMITMENTS
from finops_bot.questions.library import ORG_WIDE as ORG_WIDE_LIBRARY
from finops_bot.questions.parse import Query

# (db, q, question, today, now, prices, fleet_rules, scope) → Answer
FleetAnswer = Callable[
    [Database, Query, str, date, datetime, PriceBook, FleetRules | None, Scope | None], Answer
]


def _idle() -> FleetAnswer:
    from finops_bot.questions.gpu_answers import gpu_answer

    return gpu_answer


def _burn() -> FleetAnswer:
    from finops_bot.questions.burn_answers import burn_now_answer

    def answer(db, q, question, today, now, prices, rules, scope) -> Answer:
        return burn_now_answer(db, question, now, prices, rules, scope)

    return answer


def _portfolio() -> FleetAnswer:
    from finops_bot.questions.portfolio_answers import portfolio_answer

    return portfolio_answer


def _steps() -> FleetAnswer:
    from finops_bot.questions.step_answers import step_answer

    return step_answer


# kind → the function that gives its answer function (imported when asked)
FLEET_KINDS: dict[str, Callable[[], FleetAnswer]] = {
    "idle_gpus": _idle,
    "idle_cost": _idle,
    "burn_now": _burn,
    "portfolio": _portfolio,
    "step_cost": _steps,
    "gpu_hour_cost": _steps,
}

# kind → why a scoped audience is refused it
ORG_ONLY: dict[str, str] = {
    **dict.fromkeys(
        (*ORG_WIDE_COMMITMENTS, "portfolio"), "commitments are the organisation's: admins only"
    ),
    **dict.fromkeys(ORG_WIDE_LIBRARY, "invoices are the organisation's: admins only"),
    "untagged": "untagged spend is for admins only",
}


def fleet_answer(
    db: Database,
    q: Query,
    question: str,
    today: date,
    now: datetime,
    prices: PriceBook,
    rules: FleetRules | None,
    scope: Scope | None,
) -> Answer:
    """The answer of a FLEET_KINDS kind; ``scope`` None: every node."""
    return FLEET_KINDS[q.kind]()(db, q, question, today, now, prices, rules, scope)
