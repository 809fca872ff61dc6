"""The forward-looking question forms: forecasts ("forecast this month", "where will team
nlp end the quarter"), the 7-day run rate ("run rate", "burn rate"), the live burn ("what
are we burning right now") and budgets ("are we on budget", "which budgets are at risk",
"how much budget is left for bert-training", "when will nlp hit its budget").

"Run rate" and "burn rate" are the 7-day run rate; the forecast's baseline is "MTD pace";
"burning right now" is the fleet's $/h from heartbeats. Three names, three things."""

from __future__ import annotations

import re
from collections.abc import Callable

from finops_bot.questions.parse import Query

_A, _Z = r"(?<![\w-])", r"(?![\w-])"  # a word, not part of a hyphenated name ("budget-tracker")
BURN_NOW = re.compile(
    rf"{_A}burning{_Z}|\bcurrent(?:ly)? burn{_Z}|{_A}burn (?:right )?now\b|\bburn at the moment\b"
    r"|\b(?:spend|spending|cost|costing|pay|paying)\s+(?:per|an|a|/)\s*hour\b"
)
RUN_RATE = re.compile(rf"{_A}(?:run|burn)[- ]?rates?{_Z}")
BUDGET = re.compile(rf"{_A}budget(?:s|ed)?{_Z}")
FORECAST = re.compile(
    rf"{_A}forecast(?:s|ed|ing)?{_Z}|{_A}project(?:ed|ion){_Z}|\bwhere will\b|\bwill\b.*\bend up\b"
    r"|\b(?:month|quarter)[- ]end\b|\bend (?:of )?the (?:month|quarter)\b"
    r"|\bby the end of\b|\bon track\b"
)
_WHY = re.compile(r"\bwhy\b|\bhow come\b|\bexplain\b")
NEXT = re.compile(r"\bnext (?:month|quarter|year|week)\b")
_QUARTER = re.compile(r"\bquarter(?:ly)?\b|\bq[1-4]\b")
_NOISE = (
    r"\bforecast(?:s|ed|ing)?\b|\bprojected\b|\bprojection\b|\bwhere\b|\bwill\b|\bend(?:s)?\b"
    r"|\bup\b|\bthe\b|\bmonth\b|\bquarter(?:ly)?\b|\bfor\b|\bof\b|\bby\b|\bin\b|\bat\b"
    r"|\bspend(?:ing)?\b|\bcosts?\b|\btotal\b|\bwhat\b|\bis\b|\bare\b|\bour\b|\bwe\b|\bbe\b"
    r"|\bhow\b|\bmuch\b|\bon\b|\btrack\b|\bto\b|\bgoing\b|\bdo\b|\bdoes\b|\bit\b|\bour\b"
    r"|\bmonth[- ]end\b|\bquarter[- ]end\b|\bthis\b|\bcurrent\b|\bshow\b|\bme\b|\bgive\b"
)
_BUDGET_NOISE = (
    _NOISE + r"|\bbudget(?:s|ed)?\b|\bleft\b|\bremaining\b|\bremain\b|\bwhen\b|\bhit\b"
    r"|\breach\b|\bits\b|\btheir\b|\bwhich\b|\brisk\b|\bat-risk\b|\bover\b|\bunder\b"
    r"|\bstatus\b|\bexceed\b|\bgo\b|\bhave\b|\bhas\b|\bany\b|\ball\b|\bof\b|\blist\b"
    r"|\btracking\b|\bdoing\b|\blooking\b|\bagainst\b|\bversus\b|\bvs\b|\bcompared\b"
)
Subject = Callable[[str, dict], tuple[str | None, str | None]]


def outlook(text: str, dims: dict, common: dict, subject: Subject) -> Query | None:
    """The query when ``text`` asks one of these, else None (the other forms decide)."""
    if _WHY.search(text):  # "why did X end up so high": a why question
        return None
    if BURN_NOW.search(text) and not RUN_RATE.search(text) and common.get("period") is None:
        rest = re.sub(BURN_NOW.pattern + r"|\bright now\b|\bnow\b|" + _NOISE, " ", text)
        dim, name = subject(rest, dims)
        return Query(kind="burn_now", dim=dim, name=name)
    if BUDGET.search(text):
        return _budget(text, dims, common, subject)
    if RUN_RATE.search(text):
        rest = re.sub(RUN_RATE.pattern + "|" + _NOISE, " ", text)
        dim, name = subject(rest, dims)
        return Query(kind="run_rate", dim=dim, name=name, **common)
    if FORECAST.search(text):
        grain = "quarter" if _QUARTER.search(text) else "month"
        period = common.get("period")
        if period is not None and period.kind in ("quarter", "month"):
            grain = period.kind
        ahead = NEXT.search(text)  # not a period the parser reads: said, not a name
        rest = re.sub(_NOISE, " ", NEXT.sub(" ", text))
        dim, name = subject(rest, dims)
        by = ahead[0] if ahead else None
        return Query(kind="forecast", dim=dim, name=name, granularity=grain, by=by, **common)
    return None


def _budget(text: str, dims: dict, common: dict, subject: Subject) -> Query:
    if re.search(r"\bat[- ]risk\b|\bover\b|\bexceed", text):
        what = "risk"
    elif re.search(r"\bleft\b|\bremain(?:ing|s)?\b", text):
        what = "left"
    elif re.search(r"\bwhen\b", text):
        what = "when"
    else:
        what = None
    rest = re.sub(_BUDGET_NOISE, " ", text)
    dim, name = subject(rest, dims)
    return Query(kind="budget", dim=dim, name=name, by=what, **common)
