"""The commitment question forms: "savings plan utilization last month", "ri coverage for
ec2", "effective savings rate (by service)", "unused commitments this month", "commitment
purchases this year", "which commitments expire in the next 60 days"."""

from __future__ import annotations

import re
from collections.abc import Callable

from finops_bot.questions.parse import Query

_SP = r"(?:savings?[- ]plans?|sps?)"
_RI = r"(?:reserved instances?|reservations?|ris?|reserved capacity)"
_COMMIT = rf"(?:commitments?|committed use(?: discounts?)?|cuds?|{_SP}|{_RI})"
UTILIZATION = re.compile(rf"\b{_COMMIT}\s+utili[sz]ation\b|\butili[sz]ation of\b.*\b{_COMMIT}\b")
COVERAGE = re.compile(rf"\b{_COMMIT}\s+coverage\b|\bcoverage of\b.*\b{_COMMIT}\b")
SAVINGS_RATE = re.compile(r"\b(?:effective )?savings? rate\b|\besr\b")
UNUSED = re.compile(rf"\b(?:unused|wasted|idle)\s+{_COMMIT}\b")
PURCHASES = re.compile(rf"\b{_COMMIT}\s+purchases?\b|\bpurchased?\s+{_COMMIT}\b")
EXPIRY = re.compile(rf"\b{_COMMIT}\b.*\b(?:expir\w*|renew\w*|end(?:s|ing)?)\b")
_NOISE = (
    rf"{_COMMIT}|\butili[sz]ation\b|\bcoverage\b|\b(?:effective )?savings? rate\b|\besr\b"
    r"|\bunused\b|\bwasted\b|\bidle\b|\bpurchases?d?\b|\bexpir\w*\b|\brenew\w*\b|\bwhich\b"
    r"|\bwhat\b|\bis\b|\bare\b|\bour\b|\bthe\b|\bof\b|\bfor\b|\bin\b|\bon\b|\bnext\b"
    r"|\bdays?\b|\bwithin\b|\bwill\b|\bdo\b|\bwe\b|\bhave\b|\bany\b|\b\d+\b|\bby\b|\bsoon\b"
    r"|\bends?\b|\bending\b|\bshow\b|\bme\b|\bhow\b|\bmuch\b|\bwas\b|\boverall\b"
)
Subject = Callable[[str, dict], tuple[str | None, str | None]]


def commitment_form(text: str, dims: dict, common: dict, subject: Subject) -> Query | None:
    """The query when ``text`` asks about commitments, else None."""
    kind, by, top = None, None, None
    category = (
        "Spend"
        if re.search(rf"\b{_SP}\b", text)
        else ("Usage" if re.search(rf"\b{_RI}\b", text) else None)
    )
    if UTILIZATION.search(text):
        kind, by = "commitment_utilization", category
    elif COVERAGE.search(text):
        kind = "commitment_coverage"
    elif SAVINGS_RATE.search(text):
        kind = "savings_rate"
        m = re.search(r"\bby\s+(service|provider|project|team|account|region)s?\b", text)
        by = m[1] if m else None
        text = text[: m.start()] + " " + text[m.end() :] if m else text
    elif UNUSED.search(text):
        kind, by = "unused_commitments", category
    elif PURCHASES.search(text):
        kind = "commitment_purchases"
    elif EXPIRY.search(text):
        kind, by = "commitment_expiry", category
        m = re.search(r"\b(\d{1,3})\s+days?\b", text)
        top = int(m[1]) if m else 60
    if kind is None:
        return None
    dim, name = subject(re.sub(_NOISE, " ", text), dims)
    return Query(kind=kind, dim=dim, name=name, by=by, top_n=top, **common)
