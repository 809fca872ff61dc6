"""What a team configures about questions, validated once: `[questions]` (the fiscal year),
`[aliases]` (a team's nicknames for its names) and `[people]` (email → Slack user id). And
who is asking (Asker), from the signed Slack user id — never from payload fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from finops_bot.errors import ConfigError
from finops_bot.providers import fold
from finops_bot.questions.words import DIMENSION_WORDS

QUESTION_KEYS = {"measure", "fiscal_year_start_month"}
_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Asker:
    """Who asked: the Slack user id Slack signed, their email (looked up from that id), the
    channel. All None on the command line."""

    user_id: str | None = None
    email: str | None = None
    channel_id: str | None = None


@dataclass(frozen=True)
class QuestionRules:
    fiscal_start: int = 1  # the fiscal year's first month
    dimensions: tuple[str, ...] = ()  # configured tag dimensions ([allocation] dimensions)
    aliases: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # folded → (dim, name)
    people: Mapping[str, str] = field(default_factory=dict)  # email → Slack user id

    def email_of(self, user_id: str) -> str | None:
        return next((e for e, u in self.people.items() if u == user_id), None)


def parse_question_rules(
    questions: Any, aliases: Any, people: Any, dimensions: tuple[str, ...] = ()
) -> QuestionRules:
    questions = questions or {}
    unknown = set(questions) - QUESTION_KEYS
    if unknown:
        raise ConfigError(
            f"[questions] {sorted(unknown)[0]}: unknown key; use {', '.join(sorted(QUESTION_KEYS))}"
        )
    start = questions.get("fiscal_year_start_month", 1)
    if not isinstance(start, int) or isinstance(start, bool) or not 1 <= start <= 12:
        raise ConfigError(
            "[questions] fiscal_year_start_month: give a month number 1-12 (2 for a fiscal "
            f"year starting in February), not {start!r}"
        )
    return QuestionRules(start, dimensions, _aliases(aliases, dimensions), _people(people))


def _aliases(raw: Any, dimensions: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError('[aliases] must be a table such as: "bert" = "project:bert-training"')
    dims = {*DIMENSION_WORDS.values(), *dimensions}
    out = {}
    for nickname, target in raw.items():
        dim, _, name = str(target).partition(":") if isinstance(target, str) else ("", "", "")
        dim = DIMENSION_WORDS.get(dim.strip().lower(), dim.strip().lower())
        if not name.strip() or dim not in dims:
            raise ConfigError(
                f'[aliases] {nickname}: give "dimension:name", e.g. "project:bert-training" '
                f"(dimensions: {', '.join(sorted(dims))})"
            )
        out[fold(nickname)] = (dim, name.strip())
    return out


def _people(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError('[people] must be a table such as: "alice@acme.ai" = "U0ALICE"')
    out = {}
    for email, user in raw.items():
        if not _EMAIL.fullmatch(email) or not isinstance(user, str) or not _ID.fullmatch(user):
            raise ConfigError(
                f'[people] {email}: give an email and a Slack user id, e.g. "alice@acme.ai" = '
                '"U0ALICE"'
            )
        out[email.lower()] = user
    return out
