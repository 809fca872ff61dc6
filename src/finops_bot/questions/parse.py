"""Text → Query. Deterministic rules, no model: every answer can be explained.

The question is cleaned (mentions, quotes, filler such as "hey", "'s"), its measure and
period are taken out (period words may carry a typo), then the first form that matches
decides the kind: GPU idle questions, why a cost moved, anomalies, series, movers,
superlatives and top N, names, untagged, pricing mix, breakdowns, comparisons of periods or
of two subjects, then a cost.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from datetime import date

from finops_bot.questions.periods import Period, PeriodError, find_period
from finops_bot.questions.words import (
    DIMENSION_WORDS,
    FILLER,
    PHRASE_FILLER,
    typo_fixes,
)

MEASURE_PHRASES = [
    (re.compile(r"\b(?:billed|invoiced|cash)\s+(?:cost|costs|spend|amount)?\b"), "BilledCost"),
    (re.compile(r"\b(?:list|on-demand list|public)\s+(?:cost|costs|price|prices)\b"), "ListCost"),
    (re.compile(r"\b(?:effective|amortized|amortised)\s+(?:cost|costs|spend)?\b"), "EffectiveCost"),
    # "a100 hours", "gpu-hours"; not "24 hours" (a number of hours is no measure)
    (re.compile(r"\bgpu[- ]?hours?\b|(?:^|(?<=\s))(?!\d+ )(?P<of>\S+ )hours\b"), "GPUHours"),
]
COST_WORDS = re.compile(r"\b(?:cost|costs|spend|spent|spending|bill|billing|money|total|burn)")
BEFORE_WORDS = {
    "the", "a", "month", "week", "day", "year", "quarter", "before", "previous", "prior",
    "one", "period", "same", "days", "of", "last", "it", "that"
}  # fmt: skip
HELP_WORDS = {"help", "examples", "example", "usage", "commands", "hi", "hello", "hey", "?"}
ME = "@me"  # the asker, as a subject name


@dataclass(frozen=True)
class Query:
    kind: str  # cost total top breakdown compare compare_subjects untagged pricing series
    # movers names idle_gpus idle_cost why anomalies forecast run_rate budget burn_now help
    period: Period | None = None
    period_given: bool = False
    dim: str | None = None  # the subject's dimension, when the user named one
    name: str | None = None  # the subject as typed (ME for "my")
    measure: str | None = None  # None = the configured default
    top_n: int | None = None
    top_dim: str | None = None
    by: str | None = None  # breakdown dimension; movers and why: "up" or "down" (as asked)
    previous: Period | None = None  # explicit comparison period
    notes: tuple[str, ...] = field(default_factory=tuple)
    granularity: str | None = None  # series: day, week, month (None: chosen by length)
    other_dim: str | None = None  # compare_subjects: the second subject
    other_name: str | None = None
    detail: str | None = None  # a form's own particular: the use case's id, a unit asked


class ParseError(ValueError):
    """The question was read but cannot be answered as asked (the message says why)."""


def _clean(text: str) -> str:
    text = re.sub(r"<@([A-Za-z0-9]+)(?:\|[^>]*)?>", lambda m: f" @@{m[1].upper()} ", text)
    text = text.strip().lower()
    text = text.replace("’", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"'s\b", "", text)  # "last week's total", "alice's spend"
    text = re.sub(r"[?!]+", " ", text)
    text = re.sub(r"[\"`]", " ", text)
    text = re.sub(r"(?<=\w),(?=\s)", " ", text)  # "hey, how much"
    text = PHRASE_FILLER.sub(" ", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip(" .,:;")


def _strip_filler(text: str) -> str:
    words = [w for w in re.split(r"\s+", text.strip(" .,:;")) if w]
    while words and words[0].strip(",.") in FILLER:
        words.pop(0)
    while words and words[-1].strip(",.") in FILLER:
        words.pop()
    return " ".join(words).strip(" .,:;")


def _dim_alt(dims: dict[str, str]) -> str:
    return "|".join(re.escape(w) for w in sorted(dims, key=len, reverse=True))


def _subject(text: str, dims: dict[str, str]) -> tuple[str | None, str | None]:
    """'project bert-training' → ('project', 'bert-training'); 'bert-training' → (None, ...)."""
    text = _strip_filler(re.sub(r"\bmy\b|\bmine\b", f" {ME} ", text))
    if not text:
        return None, None
    if text == ME or text.split() == [ME]:
        return "owner", ME
    if re.fullmatch(r"gpus?(?: instances?| charges?)?", text):  # "gpu spend": every model
        return "gpu", "*"
    if re.fullmatch(r"@@[A-Z0-9]+", text.upper()):  # a Slack mention of a person
        return "owner", text.upper()
    first, _, rest = text.partition(" ")
    if rest and first not in dims and len(first) >= 5:
        close = difflib.get_close_matches(first, list(dims), n=1, cutoff=0.8)
        if close:  # "projcet bert-training": a typo of a dimension word
            text = f"{close[0]} {rest}"
    alt = _dim_alt(dims)
    m = re.search(rf"\b(?P<dim>{alt})\b\s+(?P<name>.+)$", text)
    if m:
        name = _strip_filler(m["name"])
        if name:
            return dims[m["dim"]], _mention(name)
    m = re.search(rf"^(?P<name>\S+)\s+(?P<dim>{alt})$", text)
    if m:  # "bert-training project", "google cloud" (a longer name keeps its last word)
        return dims[m["dim"]], _mention(_strip_filler(m["name"]))
    return None, _mention(text)


def _mention(name: str) -> str:
    return name.upper() if re.fullmatch(r"@@[a-z0-9]+", name) else name


def _take_period(text: str, today: date, fiscal_start: int) -> tuple[str, Period | None, list]:
    """Take the period phrase out → (rest, period, notes). A period word with a typo is
    read as the word it is one or two edits from, and the notes say so."""
    found = find_period(text, today, fiscal_start)
    notes: list[str] = []
    if not found:
        words = text.split(" ")
        fixes = typo_fixes(words)
        if fixes:
            fixed = " ".join(fixes.get(i, w) for i, w in enumerate(words))
            found = find_period(fixed, today, fiscal_start)
            if found:  # keep only the fixes inside the period phrase itself
                a, b = found[1]
                kept, at = {}, 0
                for i, w in enumerate(fixed.split(" ")):
                    if i in fixes and a <= at < b:
                        kept[i] = fixes[i]
                    at += len(w) + 1
                text = " ".join(kept.get(i, w) for i, w in enumerate(words))
                found = find_period(text, today, fiscal_start)
                typed = " ".join(words[i] for i in kept)
                notes.append(f"Read “{typed}” as “{' '.join(kept.values())}”.")
    if not found:
        return text, None, notes
    period, (a, b) = found
    return (text[:a] + " " + text[b:]).strip(), period, notes


def parse(
    question: str, today: date, *, fiscal_start: int = 1, dimensions: tuple[str, ...] = ()
) -> Query:
    """Parse one question. Raises ParseError for a recognised but impossible period.
    ``dimensions``: configured tag dimensions, named like the built-in ones."""
    text = _clean(question)
    if not text or text in HELP_WORDS or text.startswith("help"):
        return Query(kind="help")
    dims = {**DIMENSION_WORDS, **{d: d for d in dimensions}}
    text = _tag_words(text)
    dims.update({w: w for w in re.findall(r"\btag:[\w./-]+", text)})
    dims.update({f"{d}s": d for d in dimensions if not d.endswith("s")})
    measure, text = _measure(text)
    text = _periodic_words(text)
    try:
        text, compare, period, previous, notes = _periods(text, today, fiscal_start)
    except PeriodError as exc:
        raise ParseError(str(exc)) from None
    common = dict(
        period=period, period_given=period is not None, measure=measure, notes=tuple(notes)
    )
    from finops_bot.questions.commitment_words import commitment_form
    from finops_bot.questions.library import library_form
    from finops_bot.questions.outlook import outlook  # their forms use this module's Query
    from finops_bot.questions.portfolio_answers import portfolio_form
    from finops_bot.questions.step_answers import step_form

    compared = f"compare {text}" if compare or previous else text  # "usage … vs …"
    for special in (step_form, portfolio_form, commitment_form, library_form, outlook):
        q = special(compared if special is library_form else text, dims, common, _subject)
        if q is not None:
            return replace(q, previous=previous) if q.kind == "usage_compare" else q
    forms = (_gpu_idle, _why, _anomalies, _series, _movers, _top, _names, _untagged)
    for form in (*forms, _pricing, _breakdown):
        q = form(text, dims, common)
        if q is not None:
            return _why_periods(q, previous) if q.kind == "why" else q
    return _rest(question, text, dims, common, compare, previous)


def _tag_words(text: str) -> str:
    """A tag key nobody configured: "tag env prod", "tag env=prod", "by tag env" → the
    dimension ``tag:KEY`` (read from the facts)."""
    text = re.sub(r"\bby\s+tags?\s+(?P<key>[\w.:/-]+)", lambda m: f"by tag:{m['key']}", text)
    return re.sub(
        r"\btags?\s+(?P<key>[\w./-]+)\s*(?:=|:|\s)\s*(?P<value>\S+)",
        lambda m: f"tag:{m['key']} {m['value']}",
        text,
    )


def _measure(text: str) -> tuple[str | None, str]:
    for pattern, name in MEASURE_PHRASES:
        if pattern.search(text):
            # keep what the hours are of ("a100 hours" → "a100")
            rest = pattern.sub(lambda m: f" {m.groupdict().get('of') or ''} ", text)
            return name, re.sub(r"\s+", " ", rest).strip()
    return None, text


_OVER = {"wow": "week", "mom": "month", "dod": "day", "yoy": "year", "qoq": "quarter"}


def _periodic_words(text: str) -> str:
    """'week over week', 'mom' → a comparison of this period with the one before."""
    pricing_mix = re.compile(
        r"\bspot\b\s*(?:vs\.?|versus|and|or|/)?\s*\bon[- ]?demand\b"
        r"|\bon[- ]?demand\b\s*(?:vs\.?|versus|and|or|/)?\s*\bspot\b|\bpricing (?:category|mix)\b"
    )
    text = pricing_mix.sub(" pricingmix ", text)
    over = re.search(r"\b(week|month|day|year|quarter) over \1\b|\b(wow|mom|dod|yoy|qoq)\b", text)
    if over:
        unit = over[1] or _OVER[over[2]]
        first = "today" if unit == "day" else f"this {unit}"
        text = text[: over.start()] + f" compare {first} " + text[over.end() :]
    return text


_VS = r"\bvs\.?(?=\s|$)|\bversus\b|\bagainst\b|\bcompared (?:to|with)\b"


def _split_compare(text: str, today: date, fiscal_start: int) -> list[str]:
    """ "X vs Y" → [X, Y]; "compare X to/with Y" too, unless that "to" is inside a period
    phrase ("from nov 1 to nov 7")."""
    parts = re.split(_VS, text, maxsplit=1)
    if len(parts) == 2 or not re.search(r"\bcompare\b", text):
        return parts
    inside = find_period(text, today, fiscal_start)
    for m in re.finditer(r"\bto\b|\bwith\b", text):
        if inside and inside[1][0] <= m.start() < inside[1][1]:
            continue
        return [text[: m.start()], text[m.end() :]]
    return [text]


def _periods(text: str, today: date, fiscal_start: int):
    """→ (rest, compare, period, previous, notes). In "X vs Y" the second period, when
    there is one, is the comparison period; when Y names a subject ("aws vs gcp last
    month") the two subjects are compared over the one period."""
    compare = bool(re.search(rf"\bcompare\b|{_VS}|\bcompared\b", text))
    previous, notes = None, []
    if compare:
        parts = _split_compare(text, today, fiscal_start)
        if len(parts) == 2:
            right, right_period, notes = _take_period(parts[1], today, fiscal_start)
            leftover = " ".join(w for w in right.split() if w not in BEFORE_WORDS)
            if leftover:
                left, period, more = _take_period(parts[0], today, fiscal_start)
                left = re.sub(r"\bcompare[ds]?\b", " ", left)
                text = re.sub(r"\s+", " ", f"{left} versus {leftover}").strip()
                return text, compare, period or right_period, None, notes + more
            previous, text = right_period, parts[0]
        text = re.sub(r"\bcompare[ds]?\b", " ", text)
    text, period, more = _take_period(text, today, fiscal_start)
    text = re.sub(r"\s+", " ", text).strip()
    return text, compare, period, previous, notes + more


def _gpu_idle(text: str, dims: dict, common: dict) -> Query | None:
    if not (re.search(r"\bgpus?\b", text) and re.search(r"\bidle\b|\bwasted?\b|\bunused\b", text)):
        return None
    if COST_WORDS.search(text) or re.search(r"\bdollars?\b|\busd\b|\$", text) or common["period"]:
        by = re.search(r"\bby\s+(owner|project)s?\b", text)
        rest = text[: by.start()] + " " + text[by.end() :] if by else text
        rest = re.sub(
            r"\bidle\b|\bgpus?\b|\bdollars?\b|\bof\b|\bwasted?\b|\bunused\b|\bmany\b|\bfor\b",
            " ",
            rest,
        )
        dim, name = _subject(rest, dims)
        common = {**common, "measure": None}
        return Query(kind="idle_cost", dim=dim, name=name, by=by[1] if by else "project", **common)
    rest = re.sub(
        r"\bidle\b|\bgpus?\b|\bwhich\b|\bwhat\b|\bnodes?\b|\bnow\b|\bright\b|"
        r"\bwasted?\b|\bunused\b|\bany\b|\bfor\b|\bof\b|\bbelong(?:ing|s)? to\b",
        " ",
        text,
    )
    dim, name = _subject(rest, dims)
    return Query(kind="idle_gpus", dim=dim if dim in ("owner", "project") else None, name=name)


_WHY = re.compile(
    r"\bwhy\b|\bhow come\b|\bexplain\b|\bwhat changed (?:for|in|with|on|about)\b"
    r"|\bwhat (?:drove|drives|caused|causes|explains|pushed|led to|is behind|was behind)\b"
)
_DOWN = re.compile(
    r"(?<!\S)(?:down|drop(?:ped|s)?|f[ae]ll|fallen|falling|decrease[ds]?|decreasing|lower"
    r"|shr[aiu]nk|cheaper|less|sav(?:e|ed|ings?))(?!\S)"
)
_UP = re.compile(
    r"(?<!\S)(?:up|increase[ds]?|increasing|rise|rose|risen|rising|jump(?:ed|s)?|spike[ds]?"
    r"|gr[eo]w|grown|growing|growth|high|higher|more|surged?|doubled|expensive)(?!\S)"
)
# the words of a "why" question around its subject ("why did X go up", "what drove the
# increase in X"); taken out word by word, so a name with one of them inside stays whole
_WHY_WORDS = {
    "why", "how", "come", "explain", "explains", "explained", "what", "drove", "drives",
    "drive", "driving", "caused", "causes", "cause", "pushed", "led", "lead", "leads",
    "behind", "changed", "change", "changes", "did", "does", "do", "is", "are", "was", "were",
    "has", "have", "had", "been", "the", "a", "an", "our", "in", "of", "for", "on", "with",
    "about", "so", "much", "go", "goes", "going", "gone", "went", "get", "got", "cost",
    "costs", "spend", "spending", "spent", "bill", "billing", "usage", "expense", "expenses",
    "up", "down", "increase", "increased", "increases", "increasing", "rise", "rose", "risen",
    "rising", "jump", "jumped", "jumps", "spike", "spiked", "spikes", "grow", "grew", "grown",
    "growing", "growth", "higher", "high", "more", "surge", "surged", "doubled", "drop",
    "dropped", "drops", "fall", "fell", "fallen", "falling", "decrease", "decreased",
    "decreases", "decreasing", "lower", "less", "shrink", "shrank", "shrunk", "cheaper",
    "save", "saved", "savings", "there", "that", "it", "to"
}  # fmt: skip
_ANOMALY = re.compile(r"\banomal(?:y|ies|ous)\b|(?<!\S)spikes(?!\S)|\bunusual\b")
_ANOMALY_WORDS = {
    "anomaly", "anomalies", "anomalous", "spikes", "spike", "unusual", "any", "are", "is",
    "there", "were", "was", "show", "list", "me", "all", "open", "the", "for", "of", "in",
    "on", "with", "cost", "costs", "spend", "spending", "detected", "found", "have", "has",
    "we", "had", "do", "did", "what", "which", "see", "recent", "current", "new", "about"
}  # fmt: skip


def _without(text: str, words: set[str]) -> str:
    return " ".join(w for w in text.split() if w.strip(",.:;") not in words)


def _why(text: str, dims: dict, common: dict) -> Query | None:
    """ "why did X go up", "what drove the increase in X", "what changed for X": the change
    against the period before, decomposed (no subject: all spend)."""
    if not _WHY.search(text):
        return None
    dim, name = _subject(_without(text, _WHY_WORDS), dims)
    if re.fullmatch(r"gpus?|gpu (?:spend|cost)s?|gpu instances?", name or ""):
        dim, name = "gpu", "*"
    if name and re.fullmatch(r"(?:everything|total|all|overall|cloud|we|us)", name):
        dim, name = None, None
    direction = "down" if _DOWN.search(text) else "up" if _UP.search(text) else None
    return Query(kind="why", dim=dim, name=name, by=direction, **common)


def _why_periods(q: Query, previous: Period | None) -> Query:
    """ "this month vs last month": the later period is the one explained, always."""
    period = q.period
    if previous and period and previous.start > period.start:
        return replace(q, period=previous, previous=period)
    return replace(q, previous=previous)


def _anomalies(text: str, dims: dict, common: dict) -> Query | None:
    """ "anomalies this week", "any anomalies", "anomalies for team nlp": stored ones."""
    if not _ANOMALY.search(text):
        return None
    dim, name = _subject(_without(text, _ANOMALY_WORDS), dims)
    if name and re.fullmatch(r"(?:everything|total|all|overall|cloud)", name):
        dim, name = None, None
    return Query(kind="anomalies", dim=dim, name=name, **common)


_GRAIN = {"daily": "day", "weekly": "week", "monthly": "month", "day": "day", "week": "week"}
_GRAIN.update({"month": "month", "days": "day", "weeks": "week", "months": "month"})


def _series(text: str, dims: dict, common: dict) -> Query | None:
    m = re.search(
        r"\b(?P<g>daily|weekly|monthly)\b|\b(?:by|per|each|every)\s+(?P<g2>day|week|month)\b"
        r"|\b(?P<t>trend|trends|over time|timeline|history|chart|graph|plot)\b",
        text,
    )
    if not m:
        return None
    grain = _GRAIN.get(m["g"] or m["g2"] or "")
    rest = re.sub(r"\b(?:of|for|in)\b", " ", text[: m.start()] + " " + text[m.end() :])
    rest = re.sub(r"\b(?:show|me|a|the|cost|spend|line)\b", " ", rest)
    dim, name = _subject(rest, dims)
    if name and re.fullmatch(r"(?:everything|total|all|overall)", name):
        dim, name = None, None
    return Query(kind="series", dim=dim, name=name, granularity=grain, **common)


def _movers(text: str, dims: dict, common: dict) -> Query | None:
    m = re.search(
        r"\b(?:biggest|largest|most|top)\s+(?P<dir>increases?|jumps?|growth|risers?|decreases?"
        r"|drops?|falls?|savings?|movers?|changes?)\b"
        r"|\b(?:grew|grown|increased|rose|jumped|went up|dropped|fell|decreased|went down)"
        r"\s+(?:the\s+)?most\b|\bwhat (?:changed|moved)\b",
        text,
    )
    if not m:
        return None
    falling = re.search(r"decreas|drop|fell|fall|saving|went down", m[0])
    by = next((dims[w] for w in text.split() if w in dims), "project")
    return Query(
        kind="movers",
        top_n=5,
        top_dim=by,
        by="down" if falling else "up",
        **common,
    )


def _top(text: str, dims: dict, common: dict) -> Query | None:
    alt = _dim_alt(dims)
    m = re.search(rf"\btop\s*(?P<n>\d+)?\s*(?P<dim>{alt})\b", text) or re.search(
        rf"\b(?:biggest|largest|most expensive)\s*(?P<n>\d+)?\s*(?P<dim>{alt})\b", text
    )
    if m:
        n = int(m["n"]) if m["n"] else 5
        if n < 1 or n > 100:
            raise ParseError("ask for a top N between 1 and 100")
        # "top 5 services for provider aws": the ranking is of that subject
        rest = re.sub(r"\b(?:for|of|in|within|under)\b", " ", text[: m.start()] + text[m.end() :])
        dim, name = _subject(rest, dims)
        return Query(kind="top", top_n=n, top_dim=dims[m["dim"]], dim=dim, name=name, **common)
    m = re.search(
        rf"\b(?:which|what|whose)\s+(?P<dim>{alt})\b.*\b(?:most|highest|biggest|largest)\b", text
    ) or re.search(r"\b(?P<who>who|biggest spenders?|top spenders?|largest spenders?)\b", text)
    if m and (m.groupdict().get("dim") or re.search(r"\bmost\b|spender", text)):
        top_dim = dims[m["dim"]] if m.groupdict().get("dim") else _spender(m)
        return Query(kind="top", top_n=1, top_dim=top_dim, **common)
    return None


def _spender(m: re.Match) -> str:
    return "owner" if m["who"] == "who" else "project"


def _names(text: str, dims: dict, common: dict) -> Query | None:
    alt = _dim_alt(dims)
    m = re.fullmatch(
        rf"(?:list|list of|list all|all|show|show all|which|what|what are (?:the|our)|name)"
        rf"(?: the| our| all)?\s+(?P<dim>{alt})(?:\s+(?:do|are|have|exist|there).*)?",
        text,
    ) or re.fullmatch(rf"(?P<dim>{alt})(?: list)?", text)
    if not m:
        return None
    return Query(kind="names", top_dim=dims[m["dim"]], **common)


def _untagged(text: str, dims: dict, common: dict) -> Query | None:
    if re.search(
        r"\buntagged\b|\bunallocated\b|\bwithout (?:a )?(?:project )?tags?\b|\bno tags?\b", text
    ):
        return Query(kind="untagged", **common)
    return None


def _pricing(text: str, dims: dict, common: dict) -> Query | None:
    if "pricingmix" not in text:
        return None
    dim, name = _subject(re.sub(r"\bpricingmix\b|\bfor\b", " ", text), dims)
    return Query(kind="pricing", dim=dim, name=name, **common)


def _breakdown(text: str, dims: dict, common: dict) -> Query | None:
    alt = _dim_alt(dims)
    m = re.search(rf"\b(?:by|per)\s+(?:service\s+)?(?P<by>pricing|{alt})\b", text)
    if not m:
        return None
    by = "category" if "service categor" in m[0] else dims.get(m["by"], m["by"])
    dim, name = _subject(text[: m.start()] + " " + text[m.end() :], dims)
    if name is None or (name and re.fullmatch(r"(?:everything|total|all|overall|gpu)", name)):
        if by == "pricing":
            return Query(kind="pricing", **common)
        if name == "gpu":
            return Query(kind="top", top_n=10, top_dim=by, dim="gpu", name="*", **common)
        return Query(kind="top", top_n=10, top_dim=by, **common)  # "cost by project"
    return Query(kind="breakdown", dim=dim, name=name, by=by, **common)


def _rest(question, text, dims, common, compare, previous) -> Query:
    if compare and " versus " in f" {text} ":
        left, _, right = f" {text} ".partition(" versus ")
        left, right = left.strip(), right.strip()
        dim, name = _subject(left, dims)
        other_dim, other_name = _subject(right, dims)
        if name and other_name:  # "aws vs gcp last month"
            return Query(
                kind="compare_subjects",
                dim=dim,
                name=name,
                other_dim=other_dim,
                other_name=other_name,
                **common,
            )
        text = left or right
    dim, name = _subject(text, dims)
    if re.fullmatch(r"gpus?|gpu (?:spend|cost)s?|gpu instances?", name or ""):
        dim, name = "gpu", "*"
    if compare:
        period = common["period"]
        if previous and period and previous.start > period.start:
            # "last month vs this month": the later period is the one compared, always
            common = {**common, "period": previous}
            previous = period
        return Query(kind="compare", dim=dim, name=name, previous=previous, **common)
    if name is None and dim is None:
        if not common["period_given"] and not COST_WORDS.search(question.lower()):
            return Query(kind="help")  # "what can you do", "thanks" ...
        return Query(kind="total", **common)
    if name and re.fullmatch(r"(?:everything|total|all|spend|overall|cloud)", name):
        return Query(kind="total", **common)
    return Query(kind="cost", dim=dim, name=name, **common)
