"""STUB"""

from __future__ import annotations

from finops_bot.questions.parse import Query


def library_form(text: str, dims: dict, common: dict, subject) -> Query | None:
    return None
