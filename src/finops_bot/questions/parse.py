"""Text → Query. Deterministic rules, no model: every answer can be explained."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date

from finops_bot.questions.periods import Period, PeriodError, find_period

DIMENSION_WORDS = {
    "project": "project",
    "projects": "project",
    "team": "team",
    "teams": "team",
    "owner": "owner",
    "owners": "owner",
    "user": "owner",
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
}
_DIM_ALT = "|".join(sorted(DIMENSION_WORDS, key=len, reverse=True))
FILLER = {
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
    "my",
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
}
MEASURE_PHRASES = [
    (re.compile(r"\b(?:billed|invoiced|cash)\s+(?:cost|costs|spend|amount)?\b"), "BilledCost"),
    (re.compile(r"\b(?:list|on-demand list|public)\s+(?:cost|costs|price|prices)\b"), "ListCost"),
    (re.compile(r"\b(?:effective|amortized|amortised)\s+(?:cost|costs|spend)?\b"), "EffectiveCost"),
]


@dataclass(frozen=True)
class Query:
    kind: str  # cost, total, top, breakdown, compare, untagged, pricing, help
    period: Period | None = None
    period_given: bool = False
    dim: str | None = None  # the subject's dimension, when the user named one
    name: str | None = None  # the subject as typed
    measure: str | None = None  # None = the configured default
    top_n: int | None = None
    top_dim: str | None = None
    by: str | None = None  # breakdown dimension
    previous: Period | None = None  # explicit comparison period
    notes: tuple[str, ...] = field(default_factory=tuple)


class ParseError(ValueError):
    """The question was read but cannot be answered as asked (the message says why)."""


def _clean(text: str) -> str:
    text = text.strip().lower()
    text = re.sub(r"<@[a-z0-9]+>", " ", text)  # a Slack mention of the bot
    text = text.replace("’", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"[?!]+", " ", text)
    text = re.sub(r"[\"`]", " ", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip(" .,:;")


def _strip_filler(text: str) -> str:
    words = [w for w in re.split(r"\s+", text.strip(" .,:;")) if w]
    while words and words[0].strip(",.") in FILLER:
        words.pop(0)
    while words and words[-1].strip(",.") in FILLER:
        words.pop()
    return " ".join(words).strip(" .,:;")


def _subject(text: str) -> tuple[str | None, str | None]:
    """'project bert-training' → ('project', 'bert-training'); 'bert-training' → (None, ...)."""
    text = _strip_filler(text)
    if not text:
        return None, None
    first, _, rest = text.partition(" ")
    if rest and first not in DIMENSION_WORDS and len(first) >= 5:
        close = difflib.get_close_matches(first, list(DIMENSION_WORDS), n=1, cutoff=0.8)
        if close:  # "projcet bert-training": a typo of a dimension word
            text = f"{close[0]} {rest}"
    m = re.search(rf"\b(?P<dim>{_DIM_ALT})\b\s+(?P<name>.+)$", text)
    if m:
        name = _strip_filler(m["name"])
        if name:
            return DIMENSION_WORDS[m["dim"]], name
    m = re.search(rf"^(?P<name>\S+)\s+(?P<dim>{_DIM_ALT})$", text)
    if m:  # "bert-training project", "google cloud" (a longer name keeps its last word)
        return DIMENSION_WORDS[m["dim"]], _strip_filler(m["name"])
    return None, text


def _take_period(text: str, today: date) -> tuple[str, Period | None]:
    found = find_period(text, today)
    if not found:
        return text, None
    period, (a, b) = found
    return (text[:a] + " " + text[b:]).strip(), period


COST_WORDS = re.compile(r"\b(?:cost|costs|spend|spent|spending|bill|billing|money|total|burn)")
BEFORE_WORDS = {
    "the",
    "a",
    "month",
    "week",
    "day",
    "year",
    "before",
    "previous",
    "prior",
    "one",
    "period",
    "same",
    "days",
    "of",
    "last",
    "it",
    "that",
}
HELP_WORDS = {"help", "examples", "example", "usage", "commands", "hi", "hello", "hey", "?"}


def parse(question: str, today: date) -> Query:
    """Parse one question. Raises ParseError for a recognised but impossible period."""
    text = _clean(question)
    if not text or text in HELP_WORDS or text.startswith("help"):
        return Query(kind="help")

    measure = None
    for pattern, name in MEASURE_PHRASES:
        if pattern.search(text):
            measure = name
            text = pattern.sub(" ", text)
            break

    pricing_mix = re.compile(
        r"\bspot\b\s*(?:vs\.?|versus|and|or|/)?\s*\bon[- ]?demand\b"
        r"|\bon[- ]?demand\b\s*(?:vs\.?|versus|and|or|/)?\s*\bspot\b|\bpricing (?:category|mix)\b"
    )
    if pricing_mix.search(text):
        text = pricing_mix.sub(" pricingmix ", text)
    over = re.search(r"\b(week|month|day|year) over \1\b|\b(wow|mom|dod|yoy)\b", text)
    if over:
        unit = over[1] or {"wow": "week", "mom": "month", "dod": "day", "yoy": "year"}[over[2]]
        first = "today" if unit == "day" else f"this {unit}"
        text = text[: over.start()] + f" compare {first} " + text[over.end() :]
    # "X vs Y": the second period, when there is one, is the comparison period
    compare = bool(re.search(r"\bcompare\b|\bvs\.?\b|\bversus\b|\bagainst\b|\bcompared\b", text))
    previous = None
    try:
        if compare:
            parts = re.split(
                r"\bvs\.?\b|\bversus\b|\bagainst\b|\bcompared (?:to|with)\b", text, maxsplit=1
            )
            if len(parts) == 2:
                rest, previous = _take_period(parts[1], today)
                leftover = [w for w in rest.split() if w not in BEFORE_WORDS]
                text = parts[0] + " " + " ".join(leftover)
            text = re.sub(r"\bcompare[ds]?\b", " ", text)
        text, period = _take_period(text, today)
    except PeriodError as exc:
        raise ParseError(str(exc)) from None
    period_given = period is not None
    text = re.sub(r"\s+", " ", text).strip()

    common = dict(period=period, period_given=period_given, measure=measure)

    if re.search(r"\bgpus?\b", text) and re.search(r"\bidle\b|\bwasted?\b|\bunused\b", text):
        if COST_WORDS.search(text) or re.search(r"\bdollars?\b|\busd\b|\$", text) or period:
            by = re.search(r"\bby\s+(owner|project)s?\b", text)
            rest = text[: by.start()] + " " + text[by.end() :] if by else text
            rest = re.sub(
                r"\bidle\b|\bgpus?\b|\bdollars?\b|\bof\b|\bwasted?\b|"
                r"\bunused\b|\bmany\b|\bfor\b",
                " ",
                rest,
            )
            dim, name = _subject(rest)
            return Query(
                kind="idle_cost", dim=dim, name=name, by=by.group(1) if by else "project", **common
            )
        rest = re.sub(
            r"\bidle\b|\bgpus?\b|\bwhich\b|\bwhat\b|\bnodes?\b|\bnow\b|\bright\b|"
            r"\bwasted?\b|\bunused\b|\bany\b|\bfor\b|\bof\b|\bbelong(?:ing|s)? to\b",
            " ",
            text,
        )
        dim, name = _subject(rest)
        return Query(kind="idle_gpus", dim=dim if dim in ("owner", "project") else None, name=name)

    m = re.search(rf"\btop\s*(?P<n>\d+)?\s*(?P<dim>{_DIM_ALT})\b", text) or re.search(
        rf"\b(?:biggest|largest|most expensive)\s*(?P<n>\d+)?\s*(?P<dim>{_DIM_ALT})\b", text
    )
    if m:
        n = int(m["n"]) if m["n"] else 5
        if n < 1 or n > 100:
            raise ParseError("ask for a top N between 1 and 100")
        # "top 5 services for provider aws": the ranking is of that subject
        rest = re.sub(r"\b(?:for|of|in|within|under)\b", " ", text[: m.start()] + text[m.end() :])
        dim, name = _subject(rest)
        top_dim = DIMENSION_WORDS[m["dim"]]
        return Query(kind="top", top_n=n, top_dim=top_dim, dim=dim, name=name, **common)

    if re.search(
        r"\buntagged\b|\bunallocated\b|\bwithout (?:a )?(?:project )?tags?\b|\bno tags?\b", text
    ):
        return Query(kind="untagged", **common)

    if "pricingmix" in text:
        rest = re.sub(r"\bpricingmix\b|\bfor\b", " ", text)
        dim, name = _subject(rest)
        return Query(kind="pricing", dim=dim, name=name, **common)

    m = re.search(rf"\b(?:by|per)\s+(?:service\s+)?(?P<by>pricing|{_DIM_ALT})\b", text)
    if m:
        by = "category" if "service categor" in m[0] else DIMENSION_WORDS.get(m["by"], m["by"])
        rest = text[: m.start()] + " " + text[m.end() :]
        dim, name = _subject(rest)
        if name is None or (name and re.fullmatch(r"(?:everything|total|all|overall)", name)):
            if by == "pricing":
                return Query(kind="pricing", **common)
            # "cost by project" is a ranking of projects
            return Query(kind="top", top_n=10, top_dim=by, **common)
        return Query(kind="breakdown", dim=dim, name=name, by=by, **common)

    dim, name = _subject(text)
    if compare:
        if previous and period and previous.start > period.start:
            # "last month vs this month": the later period is the one compared, always
            period, previous = previous, period
            common["period"] = period
        return Query(kind="compare", dim=dim, name=name, previous=previous, **common)
    if name is None and dim is None:
        if not period_given and not COST_WORDS.search(question.lower()):
            return Query(kind="help")  # "what can you do", "thanks" ...
        return Query(kind="total", **common)
    if name and re.fullmatch(r"(?:everything|total|all|spend|overall|cloud)", name):
        return Query(kind="total", **common)
    return Query(kind="cost", dim=dim, name=name, **common)
