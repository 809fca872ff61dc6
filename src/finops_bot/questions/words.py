"""The words questions are read with: dimension words, filler, and typos in period words.

Typos are corrected against the period vocabulary only (never against names): a word one
edit away from a period word (two for words of six letters or more) is read as that word,
and the answer says so."""

from __future__ import annotations

import calendar
import re

DIMENSION_WORDS = {
    "project": "project",
    "projects": "project",
    "team": "team",
    "teams": "team",
    "owner": "owner",
    "owners": "owner",
    "user": "owner",
    "users": "owner",
    "person": "owner",
    "people": "owner",
    "service": "service",
    "services": "service",
    "account": "account",
    "accounts": "account",
    "subscription": "account",
    "subscriptions": "account",
    "provider": "provider",
    "providers": "provider",
    "cloud": "provider",
    "clouds": "provider",
    "region": "region",
    "regions": "region",
    "category": "category",
    "categories": "category",
    "gpu": "gpu",
    "gpu model": "gpu",
    "gpu models": "gpu",
    "gpu type": "gpu",
    "gpu types": "gpu",
    "instance type": "instance",
    "instance types": "instance",
    "instance": "instance",
    "instances": "instance",
}
PLURAL = {
    "project": "projects",
    "team": "teams",
    "owner": "owners",
    "service": "services",
    "account": "accounts",
    "provider": "providers",
    "region": "regions",
    "category": "categories",
    "gpu": "GPU models",
    "instance": "instance types",
}
FILLER = set(
    [
        "what",
        "whats",
        "what's",
        "did",
        "does",
        "do",
        "was",
        "were",
        "is",
        "are",
        "the",
        "a",
        "an",
        "cost",
        "costs",
        "costed",
        "spend",
        "spent",
        "spending",
        "how",
        "much",
        "of",
        "for",
        "on",
        "we",
        "our",
        "us",
        "i",
        "me",
        "show",
        "tell",
        "give",
        "please",
        "in",
        "at",
        "to",
        "money",
        "bill",
        "billing",
        "total",
        "so",
        "far",
        "has",
        "have",
        "been",
        "by",
        "whole",
        "all",
        "overall",
        "org",
        "organisation",
        "organization",
        "company",
        "us$",
        "usd",
        "and",
        "amount",
        "charges",
        "charge",
        "burn",
        "burned",
        "burnt",
        "with",
        "can",
        "you",
        "about",
        "there",
        "it",
        "this",
        "that",
        "period",
        "hey",
        "hi",
        "hello",
        "over",
        "during",
        "across",
        "ok",
        "okay",
        "just",
        "quick",
        "quickly",
        "yo",
    ]
)
PHRASE_FILLER = re.compile(r"\bbreak(?:ing)?\s*downs?\b|\bgive me\b|\bcan you\b")

_PERIOD_WORDS = {
    "today",
    "yesterday",
    "this",
    "last",
    "past",
    "previous",
    "current",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "quarter",
    "quarters",
    "days",
    "since",
    "between",
    "until",
    "fiscal",
    *(calendar.month_name[i].lower() for i in range(1, 13)),
    *(calendar.day_name[i].lower() for i in range(7)),
}


_SORTED_PERIOD_WORDS = tuple(sorted(_PERIOD_WORDS))


def _distance(a: str, b: str, limit: int) -> int:
    """Damerau–Levenshtein distance (adjacent swaps count once), stopping past ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        if min(row) > limit:
            return limit + 1
        prev2, prev = prev, row
    return prev[-1]


def typo_fixes(words: list[str]) -> dict[int, str]:
    """Word index → the period word it is probably a typo of."""
    fixes: dict[int, str] = {}
    for i, word in enumerate(words):
        if len(word) < 3 or word in _PERIOD_WORDS or not word.isalpha():
            continue
        limit = 2 if len(word) >= 6 else 1
        # sorted: a tie is broken the same way in every process (a set's order is not)
        best = min(_SORTED_PERIOD_WORDS, key=lambda w: _distance(word, w, limit))
        if _distance(word, best, limit) <= limit:
            fixes[i] = best
    return fixes


def counted(n: int, word: str) -> str:
    """'1 day', '3 days'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"
