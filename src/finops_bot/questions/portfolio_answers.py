"""STUB: replaced by the helper that owns this module."""

from __future__ import annotations

from finops_bot.questions.parse import Query


def portfolio_form(text: str, dims: dict, common: dict, subject) -> Query | None:
    """The query when ``text`` asks this module's question, else None."""
    return None


def portfolio_answer(db, q: Query, question: str, today, now, prices, fleet_rules, scope):
    raise NotImplementedError
