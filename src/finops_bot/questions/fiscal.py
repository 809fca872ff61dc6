"""Quarters, halves and years, which follow ``[questions] fiscal_year_start_month``
(default 1: calendar quarters). A fiscal year is named by the calendar year it ends in
(FY2027 with a February start runs 1 Feb 2026 – 31 Jan 2027); with a January start that is
simply the calendar year. A quarter or half without a year is the latest one that has
started. Builders return (start, end, label, kind); periods.py makes the Period."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

Span = tuple[date, date, str, str]  # start, end, label, kind: what Period is made of


@dataclass(frozen=True)
class Cal:
    """What period phrases are read against: today, and the fiscal year's first month."""

    today: date
    fiscal_start: int = 1

    @property
    def fiscal(self) -> bool:
        return self.fiscal_start != 1


def add_months(d: date, months: int) -> date:
    """The first of the month ``months`` after ``d``'s month."""
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def year_start(d: date, fiscal_start: int) -> date:
    """The first day of the (fiscal) year holding ``d``."""
    year = d.year if d.month >= fiscal_start else d.year - 1
    return date(year, fiscal_start, 1)


def year_name(start: date, fiscal_start: int) -> int:
    return start.year if fiscal_start == 1 else start.year + 1


def named_year_start(name: int, fiscal_start: int) -> date:
    return date(name if fiscal_start == 1 else name - 1, fiscal_start, 1)


def _part(cal: Cal, months: int, index: int, year: int | None) -> tuple[date, date]:
    """The ``index``-th (1-based) part of ``months`` months of a year: the named year's, or
    the latest such part that has started."""
    if year is not None:
        start = add_months(named_year_start(year, cal.fiscal_start), months * (index - 1))
    else:
        start = add_months(year_start(cal.today, cal.fiscal_start), months * (index - 1))
        if start > cal.today:
            start = add_months(start, -12)
    return start, add_months(start, months) - timedelta(days=1)


def _year(text: str | None) -> int | None:
    if not text:
        return None
    return 2000 + int(text) if len(text) == 2 else int(text)  # "fy27"; "0001" is year 1


def _fy(cal: Cal, year: int) -> str:
    return f"FY{year}" if cal.fiscal else f"{year}"


def quarter(m: re.Match, cal: Cal) -> Span:
    q, year = int(m["q"]), _year(m["y"] or m["y2"])
    start, end = _part(cal, 3, q, year)
    name = year_name(year_start(start, cal.fiscal_start), cal.fiscal_start)
    return (start, end, f"Q{q} {_fy(cal, name)}", "quarter")


def half(m: re.Match, cal: Cal) -> Span:
    h = 1 if m["h"] in ("1", "first") else 2
    start, end = _part(cal, 6, h, _year(m["y"]))
    name = year_name(year_start(start, cal.fiscal_start), cal.fiscal_start)
    return (start, end, f"H{h} {_fy(cal, name)}", "half")


def this_quarter(m: re.Match, cal: Cal) -> Span:
    start = year_start(cal.today, cal.fiscal_start)
    while add_months(start, 3) <= cal.today:
        start = add_months(start, 3)
    return (start, cal.today, "this quarter", "quarter")


def last_quarter(m: re.Match, cal: Cal) -> Span:
    current = this_quarter(m, cal)[0]
    start = add_months(current, -3)
    return (start, current - timedelta(days=1), "last quarter", "quarter")


def this_year(m: re.Match, cal: Cal) -> Span:
    start = year_start(cal.today, cal.fiscal_start)
    label = f"this fiscal year ({_fy(cal, year_name(start, cal.fiscal_start))})"
    return (start, cal.today, label if cal.fiscal else "this year", "year")


def last_year(m: re.Match, cal: Cal) -> Span:
    current = year_start(cal.today, cal.fiscal_start)
    start = add_months(current, -12)
    label = f"last fiscal year ({_fy(cal, year_name(start, cal.fiscal_start))})"
    return (start, current - timedelta(days=1), label if cal.fiscal else "last year", "year")


def fiscal_year(m: re.Match, cal: Cal) -> Span:
    start = named_year_start(_year(m["y"]), cal.fiscal_start)
    end = add_months(start, 12) - timedelta(days=1)
    return (start, end, f"FY{_year(m['y'])}", "year")


def calendar_year(m: re.Match, cal: Cal) -> Span:
    year = int(m["y"])
    return (date(year, 1, 1), date(year, 12, 31), f"{year}", "year")


_Y = r"(?:fy\s?)?(?P<y>\d{4}|\d{2})"
PATTERNS = [
    (re.compile(rf"\bq(?P<q>[1-4])(?:\s+{_Y}|(?P<y2>))\b"), quarter),
    (re.compile(r"\b(?:fy\s?)?(?P<y>\d{4})\s+q(?P<q>[1-4])(?P<y2>)\b"), quarter),
    (re.compile(r"\b(?:this|current)\s+quarter\b|\bquarter to date\b|\bqtd\b"), this_quarter),
    (re.compile(r"\b(?:last|previous|past)\s+quarter\b"), last_quarter),
    (re.compile(rf"\bh(?P<h>[12])(?:\s+{_Y})?\b"), half),
    (re.compile(rf"\b(?P<h>first|second)\s+half(?:\s+of)?(?:\s+{_Y})?\b"), half),
    (re.compile(r"\bfy\s?(?P<y>\d{4}|\d{2})\b"), fiscal_year),
    (re.compile(r"\b(?:this|current)\s+(?:fiscal\s+)?year\b|\byear to date\b|\bytd\b"), this_year),
    (re.compile(r"\b(?:last|previous|past)\s+(?:fiscal\s+)?year\b"), last_year),
    (re.compile(r"\b(?:in|during)\s+(?P<y>20\d\d)\b(?![-/])"), calendar_year),
]
