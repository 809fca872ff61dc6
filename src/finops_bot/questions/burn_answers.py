"""'What are we burning right now': the fleet's $/h from the latest heartbeats × list prices.

An estimate, not billing: the answer says so in its basis, names the price basis, and names
the silent nodes it left out (they may be gone, or still billing with a dead agent)."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from finops_bot.access import Scope
from finops_bot.gpu.burn import BurnNow, burn_now
from finops_bot.gpu.fleet import FleetRules
from finops_bot.gpu.prices import PRICE_ORDER, PriceBook
from finops_bot.questions.answer import Answer, Fresh, Row
from finops_bot.questions.gpu_answers import _heard, node_filter
from finops_bot.questions.words import counted

SHOWN_ROWS = 10
NO_AGENT = (
    "No GPU node reports yet: run the agent on your GPU nodes "
    "(python -m bot agent-token create, then GET /agent.py)."
)


def burn_now_answer(
    db: Database,
    question: str,
    now: datetime,
    prices: PriceBook,
    rules: FleetRules | None = None,
    scope: Scope | None = None,
) -> Answer:
    """$/h by project of every reporting node (busy and idle alike). ``scope``: the access
    scope (None: every node); a node is inside when its project, owner and provider are,
    as for the other GPU answers."""
    rules = rules or FleetRules()
    last = _heard(db)
    burn = burn_now(db, now, prices, rules, node_filter(db, scope))
    rows = [Row(p or "(no project)", hourly, "USD") for p, hourly, _ in burn.rows] if burn else []
    answer = Answer(
        question=question,
        kind="burn_now",
        title="GPU burn right now",
        measure=None,
        unit="money_per_hour",
        totals={"USD": burn.total_per_hour} if rows else {},
        rows=rows[:SHOWN_ROWS],
        more_rows=max(len(rows) - SHOWN_ROWS, 0),
        loaded_at=last,
        data_through=None,
        fresh_from="heartbeats",
        freshness=[Fresh("fleet", "heartbeats", None, last)] if last else [],
        basis=_basis(burn),
        nothing=_nothing(burn, last, rules, scope),
        scope=scope.shown() if scope is not None else None,
    )
    if burn is not None:
        answer.notes += _notes(burn, rules)
    return answer


def _basis(burn: BurnNow | None) -> str:
    prices = (burn.price_basis if burn else "") or PRICE_ORDER
    return (
        "An estimate from the latest heartbeats, not billing: each reporting node at its "
        f"hourly list price (the Spot price on Spot); prices: {prices}"
    )


def _nothing(burn: BurnNow | None, last: str | None, rules: FleetRules, scope) -> str:
    if not last:
        return NO_AGENT
    if burn is None:
        inside = f" within {scope.shown()}" if scope is not None else ""
        return f"No GPU node has reported{inside}."
    if burn.unpriced and not burn.nodes:
        return "The nodes reporting now have no price: add them under [gpu_prices]."
    return f"No GPU node has reported in the last {counted(rules.silent_minutes, 'minute')}."


def _named(names: tuple[str, ...], most: int = 5) -> str:
    return ", ".join(names[:most]) + (" …" if len(names) > most else "")


def _notes(burn: BurnNow, rules: FleetRules) -> list[str]:
    notes = []
    if burn.nodes:
        at = datetime.fromisoformat(burn.at)
        notes.append(
            f"{counted(burn.nodes, 'node')} reporting, as of {at:%H:%M} UTC ({at:%b} {at.day})."
        )
    if burn.silent:
        n = len(burn.silent)
        notes.append(
            f"{counted(n, 'node')} silent for over {counted(rules.silent_minutes, 'minute')}, "
            f"not counted: {_named(burn.silent)} "
            f"({'it' if n == 1 else 'they'} may still be billing)."
        )
    if burn.unpriced:
        notes.append(
            f"{counted(len(burn.unpriced), 'node')} with no price, not counted: "
            f"{_named(burn.unpriced)} (add the instance type under [gpu_prices])."
        )
    return notes
