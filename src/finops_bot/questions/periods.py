"""Date rules. All periods are inclusive UTC billing days; ``today`` is always passed in.

- Weeks start on Monday. "this week"/"this month"/"this year" run from their first day to today.
- "last N days" are the N full days before today (today excluded).
- A month name without a year is the latest such month that has started.
- "since Monday" starts on the latest Monday (today, if today is a Monday).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from finops_bot.questions import fiscal
from finops_bot.questions.fiscal import Cal

MONTHS = {
    name: i
    for i in range(1, 13)
    for name in (calendar.month_name[i].lower(), calendar.month_abbr[i].lower())
}
MONTHS["sept"] = 9
WEEKDAYS = {calendar.day_name[i].lower(): i for i in range(7)}
WEEKDAYS.update({calendar.day_abbr[i].lower(): i for i in range(7)})

_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")"
_WEEKDAY = r"(?:" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")"
# a date: 2026-11-03, 2026/11/03, nov 3[, 2026], 3 nov[ 2026], november 3rd
DATE = (
    r"(?:\d{4}[-/]\d{1,2}[-/]\d{1,2}"
    rf"|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\.?(?:,?\s+\d{{4}})?)"
)


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    label: str
    kind: str = "range"  # today, yesterday, week, month, year, day, days, range

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def describe(self) -> str:
        return f"{self.label} ({span(self.start, self.end)})"

    @property
    def phrase(self) -> str:
        """The period as a question says it (what suggestions use): the label where the
        parser reads it back, else "between START and END"."""
        if (
            self.kind == "range"
            and not self.label.startswith("since ")
            or self.label.startswith("the ")
        ):
            return f"between {self.start} and {self.end}"
        return self.label


def span(start: date, end: date) -> str:
    if start == end:
        return f"{start:%a} {start.day} {start:%b %Y}"
    if start.year != end.year:
        return f"{start.day} {start:%b %Y} – {end.day} {end:%b %Y}"
    if start.month != end.month:
        return f"{start.day} {start:%b} – {end.day} {end:%b %Y}"
    return f"{start.day}–{end.day} {end:%b %Y}"


class PeriodError(ValueError):
    """A period phrase was recognised but makes no sense (end before start, bad date)."""


def parse_date(text: str, today: date) -> date:
    text = text.strip().lower().replace(",", " ")
    text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    m = re.fullmatch(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})", text)
    try:
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        parts = text.replace(".", " ").split()
        month = next((MONTHS[p] for p in parts if p in MONTHS), None)
        numbers = [int(p) for p in parts if p.isdigit()]
        if month is None or not numbers:
            raise PeriodError(f"cannot read the date {text!r}")
        day = numbers[0] if numbers[0] <= 31 else numbers[-1]
        years = [n for n in numbers if n > 31]
        if years:
            return date(years[0], month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate <= today else date(today.year - 1, month, day)
    except ValueError as exc:
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(f"{text!r} is not a real date") from None


def month_period(year: int, month: int, today: date, label: str | None = None) -> Period:
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    return Period(first, last, label or f"{first:%B %Y}", "month")


def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _span(build):
    """A fiscal builder (start, end, label, kind) as a period builder."""
    return lambda m, cal: Period(*build(m, cal))


# (regex, builder) in priority order; each builder takes the match and the calendar
def _between(m: re.Match, cal: Cal) -> Period:
    today = cal.today
    start, end = parse_date(m["a"], today), parse_date(m["b"], today)
    if end < start:
        raise PeriodError(f"the period ends ({end}) before it starts ({start})")
    return Period(start, end, f"{start} to {end}")


def _since_date(m: re.Match, cal: Cal) -> Period:
    today = cal.today
    start = parse_date(m["a"], today)
    if start > today:
        raise PeriodError(f"{start} is after today ({today})")
    return Period(start, today, f"since {start}")


def _since_weekday(m: re.Match, cal: Cal) -> Period:
    today = cal.today
    wd = WEEKDAYS[m["wd"]]
    start = today - timedelta(days=(today.weekday() - wd) % 7)
    return Period(start, today, f"since {calendar.day_name[wd]}")


def _last_n(m: re.Match, cal: Cal) -> Period:
    today = cal.today
    n = int(m["n"])
    if n < 1 or n > 3660:
        raise PeriodError("ask for between 1 and 3660 days")
    unit = m["unit"]
    if unit.startswith("week"):
        n *= 7
    elif unit.startswith("month"):
        n *= 30
    return Period(today - timedelta(days=n), today - timedelta(days=1), f"last {n} days", "days")


def _ym(m: re.Match, cal: Cal) -> Period:
    today = cal.today
    year, month = int(m["y"]), int(m["m"])
    if not 1 <= month <= 12:
        raise PeriodError(f"{m[0]!r}: there is no month {month}")
    return month_period(year, month, today)


def _month_name(m: re.Match, cal: Cal) -> Period:
    today = cal.today
    month = MONTHS[m["mon"]]
    if m["y"]:
        return month_period(int(m["y"]), month, today)
    year = today.year if month <= today.month else today.year - 1
    return month_period(year, month, today)


def _single_date(m: re.Match, cal: Cal) -> Period:
    today = cal.today
    d = parse_date(m["a"], today)
    return Period(d, d, f"{d}", "day")


def _fixed(kind: str):
    def build(m: re.Match, cal: Cal) -> Period:
        today = cal.today
        if kind == "today":
            return Period(today, today, "today", "today")
        if kind == "yesterday":
            d = today - timedelta(days=1)
            return Period(d, d, "yesterday", "yesterday")
        if kind == "this week":
            return Period(week_start(today), today, "this week", "week")
        if kind == "last week":
            start = week_start(today) - timedelta(days=7)
            return Period(start, start + timedelta(days=6), "last week", "week")
        if kind == "this month":
            return Period(today.replace(day=1), today, "this month", "month")
        if kind == "last month":
            prev = today.replace(day=1) - timedelta(days=1)
            return month_period(prev.year, prev.month, today, "last month")
        raise AssertionError(kind)

    return build


PATTERNS: list[tuple[re.Pattern, object]] = [
    (
        re.compile(rf"\b(?:between|from)\s+(?P<a>{DATE})\s+(?:and|to|until|-)\s+(?P<b>{DATE})"),
        _between,
    ),
    (re.compile(rf"\bsince\s+(?P<a>{DATE})"), _since_date),
    (re.compile(rf"\bsince\s+(?:last\s+)?(?P<wd>{_WEEKDAY})\b"), _since_weekday),
    (
        re.compile(r"\b(?:last|past|previous)\s+(?P<n>\d+)\s+(?P<unit>days?|weeks?|months?)\b"),
        _last_n,
    ),
    (re.compile(r"\b(?:in\s+)?(?P<y>\d{4})-(?P<m>\d{1,2})\b(?!-\d)"), _ym),
    (re.compile(r"\b(?:today|so far today)\b"), _fixed("today")),
    (re.compile(r"\byesterday\b"), _fixed("yesterday")),
    (re.compile(r"\b(?:this|current)\s+week\b|\bweek to date\b|\bwtd\b"), _fixed("this week")),
    (re.compile(r"\b(?:last|previous|past)\s+week\b"), _fixed("last week")),
    (re.compile(r"\b(?:this|current)\s+month\b|\bmonth to date\b|\bmtd\b"), _fixed("this month")),
    (re.compile(r"\b(?:last|previous|past)\s+month\b"), _fixed("last month")),
    *((pattern, _span(build)) for pattern, build in fiscal.PATTERNS),
    (re.compile(r"\b(?:on\s+)?(?P<a>\d{4}[-/]\d{1,2}[-/]\d{1,2})\b"), _single_date),
    (
        re.compile(
            rf"\b(?:on\s+)?(?P<a>{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)\b"
        ),
        _single_date,
    ),
    (re.compile(rf"\b(?:in\s+|during\s+)?(?P<mon>{_MONTH})\b(?:\s+(?P<y>\d{{4}}))?"), _month_name),
]


EARLIEST = date(2000, 1, 1)  # billing periods live between these dates
LATEST = date(2099, 12, 31)


def check_day(day: date, what: str = "the date") -> date:
    if not EARLIEST <= day <= LATEST:
        raise PeriodError(
            f"{what} {day} is outside 2000–2099, where billing data lives; ask about a date "
            "in between"
        )
    return day


def find_period(
    text: str, today: date, fiscal_start: int = 1
) -> tuple[Period, tuple[int, int]] | None:
    """The first period phrase in lower-cased ``text`` → (period, (start, end) of the phrase).
    A period outside 2000–2099 (or a year 0) is a PeriodError, never an overflow.
    ``fiscal_start``: the fiscal year's first month (quarters, halves and years follow it)."""
    try:
        found = _find_period(text, Cal(today, fiscal_start))
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(f"that date is not a real date or is outside 2000–2099 ({exc})") from None
    if found is not None:
        period, _ = found
        check_day(period.start)
        check_day(period.end)
    return found


def _find_period(text: str, cal: Cal) -> tuple[Period, tuple[int, int]] | None:
    best = None
    for pattern, build in PATTERNS:
        m = pattern.search(text)
        if m and (best is None or m.start() < best[1].start()):
            best = (build, m)
            if m.start() == 0:
                break
    if best is None:
        return None
    build, m = best
    return build(m, cal), m.span()


def _shift_day(d: date, months: int) -> date:
    """The same day ``months`` away (the month's last day where it is shorter)."""
    first = fiscal.add_months(d, months)
    return first.replace(day=min(d.day, calendar.monthrange(first.year, first.month)[1]))


def previous_period(p: Period, today: date) -> Period:
    """The period a comparison is made against: the one before, like for like.

    Partial periods (this week / this month / this year, to today) compare with the same
    days of the previous one; full calendar months with the previous full month; anything
    else with the same number of days just before it.
    """
    if p.kind == "week" and p.label == "this week":
        start = p.start - timedelta(days=7)
        return Period(start, start + timedelta(days=p.days - 1), "last week, same days", "week")
    if p.kind == "week":
        return Period(
            p.start - timedelta(days=7), p.end - timedelta(days=7), "the week before", "week"
        )
    if p.kind == "month":
        prev_last = p.start - timedelta(days=1)
        first = prev_last.replace(day=1)
        if p.label == "this month":
            end_day = min(p.end.day, prev_last.day)
            return Period(first, first.replace(day=end_day), "last month, same days", "month")
        return month_period(first.year, first.month, today, f"{first:%B %Y}")
    if p.kind in ("quarter", "half", "year"):
        months = {"quarter": 3, "half": 6, "year": 12}[p.kind]
        start = fiscal.add_months(p.start, -months)
        if p.label.startswith("this "):  # to date: the same days of the one before
            end = min(_shift_day(p.end, -months), p.start - timedelta(days=1))
            return Period(start, end, f"last {p.kind.split()[0]}, same days", p.kind)
        last = p.start - timedelta(days=1)
        return Period(start, last, f"the {p.kind} before", p.kind)
    length = timedelta(days=p.days)
    label = {"today": "yesterday", "yesterday": "the day before"}.get(
        p.kind, "the day before" if p.days == 1 else f"the {p.days} days before"
    )
    return Period(p.start - length, p.end - length, label, p.kind)
