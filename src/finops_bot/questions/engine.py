"""Query → Answer, from the cube. Sums in SQL, one currency at a time, measure always named."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlite_utils import Database

from finops_bot.gpu.fleet import FleetRules
from finops_bot.gpu.prices import PriceBook
from finops_bot.questions.answer import Answer, Comparison, Row
from finops_bot.questions.gpu_answers import gpu_answer
from finops_bot.questions.names import Match, NameIndex, NoMatch, canonical, fold
from finops_bot.questions.parse import ParseError, Query, parse
from finops_bot.questions.periods import Period, previous_period
from finops_bot.store.schema import MEASURE_COLUMNS, SUBJECT_COLUMNS

EPOCH_DATE = date(1970, 1, 1)
BREAKDOWN_ROWS = 5
PRICING_LABELS = {
    "Standard": "on-demand",
    "Dynamic": "spot",
    "Committed": "committed (RI / savings plan / CUD)",
    "Other": "other",
    "": "not stated",
}
DIM_LABELS = {
    "project": "project",
    "team": "team",
    "owner": "owner",
    "service": "service",
    "account": "account",
    "provider": "provider",
    "region": "region",
}
EXAMPLES = [
    "what did project bert-training cost this week",
    "top 5 projects last month",
    "bert-training by service last 30 days",
    "compare bert-training this week vs last week",
    "untagged spend this month",
    "spot vs on-demand for llm-finetune this month",
    "total spend since monday",
    "billed cost of team nlp in 2026-10",
    "cost of service ec2 between 2026-11-01 and 2026-11-15",
]


def day_number(d: date) -> int:
    """The cache stores UTC days as days since 1970-01-01."""
    return (d - EPOCH_DATE).days


class Engine:
    """Answers questions from one open cache. Not thread-safe: one per thread."""

    def __init__(
        self,
        db: Database,
        default_measure: str = "EffectiveCost",
        prices: PriceBook | None = None,
        fleet_rules: FleetRules | None = None,
    ):
        self.db = db
        self.default_measure = default_measure
        self.prices = prices or PriceBook()
        self.fleet_rules = fleet_rules or FleetRules()
        self._names: NameIndex | None = None
        self._names_version: tuple | None = None

    # -- data access -------------------------------------------------------------------
    def _freshness(self) -> tuple[str | None, str | None, int]:
        row = self.db.execute(
            "SELECT MAX(last_day), MAX(loaded_at), COUNT(*) FROM sources WHERE last_day IS NOT NULL"
        ).fetchone()
        return row[0], row[1], row[2]

    def names(self) -> NameIndex:
        version = self.db.execute(
            "SELECT COUNT(*), MAX(loaded_at), MAX(rowid) FROM sources"
        ).fetchone()
        if self._names is None or version != self._names_version:
            rows = self.db.execute("SELECT dim, key, label FROM names").fetchall()
            self._names = NameIndex(rows)
            self._names_version = version
        return self._names

    def _totals(self, dim: str, keys: tuple[str, ...], p: Period, col: str) -> dict[str, float]:
        marks = ",".join("?" * len(keys))
        rows = self.db.execute(
            f"SELECT currency, SUM({col}) FROM cube WHERE dim = ? AND key IN ({marks}) "
            "AND day BETWEEN ? AND ? GROUP BY currency ORDER BY 2 DESC",
            (dim, *keys, day_number(p.start), day_number(p.end)),
        ).fetchall()
        return {cur: total for cur, total in rows}

    def _breakdown(
        self, dim: str, keys: tuple[str, ...], sub: str, p: Period, col: str
    ) -> list[tuple[str, str, float]]:
        """(value of ``sub``, currency, cost) for one subject, largest first."""
        if dim == "*":  # everything by service: the cube has it
            return [(k, c, v) for k, c, v in self._top(sub, p, col)]
        subject_col, sub_col = SUBJECT_COLUMNS[dim], SUBJECT_COLUMNS[sub]
        marks = ",".join("?" * len(keys))
        # the subject's few dimension combinations, then their days (index range scans)
        return self.db.execute(
            f"SELECT k.{sub_col}, k.currency, SUM(d.{col}) AS c FROM charge_keys k "
            f"JOIN daily_keys d ON d.key_id = k.id AND d.day BETWEEN ? AND ? "
            f"WHERE k.{subject_col} IN ({marks}) GROUP BY 1, 2 ORDER BY c DESC",
            (day_number(p.start), day_number(p.end), *keys),
        ).fetchall()

    def _top(self, dim: str, p: Period, col: str) -> list[tuple[str, str, float]]:
        return self.db.execute(
            f"SELECT key, currency, SUM({col}) AS c FROM cube WHERE dim = ? "
            "AND day BETWEEN ? AND ? GROUP BY key, currency ORDER BY c DESC",
            (dim, day_number(p.start), day_number(p.end)),
        ).fetchall()

    # -- answering ---------------------------------------------------------------------
    def ask(self, question: str, today: date, now: datetime | None = None) -> Answer:
        """Answer one question. ``now`` (UTC) is needed only by the live GPU questions; it
        defaults to the end of ``today``."""
        data_through, loaded_at, sources = self._freshness()
        base = dict(
            question=question,
            data_through=data_through,
            loaded_at=loaded_at,
            measure=self.default_measure,
        )
        try:
            q = parse(question, today)
        except ParseError as exc:
            return Answer(kind="error", message=f"{exc}.", suggestions=EXAMPLES[:4], **base)
        if q.kind == "help":
            return Answer(
                kind="help",
                title="What you can ask",
                suggestions=list(EXAMPLES),
                message=_help_text(),
                **base,
            )
        if q.kind in ("idle_gpus", "idle_cost"):
            now = now or datetime.combine(today, time(23, 59), tzinfo=UTC)
            return gpu_answer(self.db, q, question, today, now, self.prices, self.fleet_rules)
        if not sources:
            return Answer(
                kind="empty",
                title="No billing data yet",
                message="The cache has no billing data yet. Load some with "
                "`python -m bot import FILE` (FOCUS CSV or Parquet) or try "
                "`python -m bot demo`.",
                suggestions=["python -m bot demo"],
                **base,
            )
        base["measure"] = q.measure or self.default_measure
        col = MEASURE_COLUMNS[base["measure"]]
        period = q.period or Period(today.replace(day=1), today, "this month", "month")
        notes = [] if q.period_given else ["No period given: showing this month."]
        notes += _freshness_notes(period, data_through)

        if q.kind == "top":
            return self._answer_top(q, period, col, base, notes)

        subject = self._subject(q)
        if isinstance(subject, NoMatch):
            return _unknown(subject, base)
        dim, keys, label = subject
        filters = {} if dim == "*" else {dim: label}
        title = "All spend" if dim == "*" else f"{DIM_LABELS[dim].capitalize()} {label}"
        common = dict(period=period, filters=filters, notes=notes, **base)

        if q.kind == "untagged":
            return self._answer_breakdown(
                "project",
                ("",),
                "service",
                period,
                col,
                Answer(kind="untagged", title="Untagged spend (no project tag)", **common),
                share_of_total=True,
            )
        if q.kind == "pricing":
            answer = Answer(kind="pricing", title=f"{title}: spot vs on-demand", **common)
            return self._answer_breakdown(dim, keys, "pricing", period, col, answer)
        if q.kind == "breakdown":
            answer = Answer(kind="breakdown", title=f"{title} by service", **common)
            return self._answer_breakdown(dim, keys, "service", period, col, answer)

        totals = self._totals(dim, keys, period, col)
        before = self._previous(q, period, today)
        before, clipped = _like_for_like(period, before, data_through)
        if clipped:
            notes.append(
                f"Compared like for like: the data ends on {data_through}, so the "
                f"earlier period is cut to the same {clipped} day(s)."
            )
        answer = Answer(
            kind="compare" if q.kind == "compare" else ("total" if dim == "*" else "cost"),
            title=title,
            totals=totals,
            **common,
        )
        answer.previous = Comparison(before, self._totals(dim, keys, before, col))
        # what moved: services now vs before
        now_rows = self._breakdown(dim, keys, "service", period, col)
        then = {(k, c): v for k, c, v in self._breakdown(dim, keys, "service", before, col)}
        rows = [Row(k or "(no service)", v, c, then.get((k, c), 0.0)) for k, c, v in now_rows]
        seen = {(k, c) for k, c, _ in now_rows}
        rows += [
            Row(k or "(no service)", 0.0, c, v) for (k, c), v in then.items() if (k, c) not in seen
        ]
        if q.kind == "compare":
            rows.sort(key=lambda r: -abs(r.cost - (r.previous_cost or 0)))
        answer.rows, answer.more_rows = rows[:BREAKDOWN_ROWS], max(len(rows) - BREAKDOWN_ROWS, 0)
        answer.suggestions = _follow_ups(dim, label, period)
        return answer

    def _subject(self, q: Query) -> tuple[str, tuple[str, ...], str] | NoMatch:
        if not q.name:
            return "*", ("*",), "everything"
        hit = self.names().resolve(q.dim, q.name)
        if isinstance(hit, Match):
            return hit.dim, hit.keys, hit.label
        return hit

    def _previous(self, q: Query, period: Period, today: date) -> Period:
        natural = previous_period(period, today)
        if q.previous is None:
            return natural
        # "this week vs last week" means like for like; any other explicit period as given
        if (
            q.previous.kind == period.kind
            and q.previous.end < period.start
            and q.previous.start <= natural.start <= q.previous.end
        ):
            return natural
        return q.previous

    def _answer_top(self, q: Query, period: Period, col: str, base: dict, notes: list) -> Answer:
        dim = q.top_dim or "project"
        # spellings of one name ("BERT Training", "bert-training") rank as one
        merged: dict[tuple[str, str], list] = {}
        for key, cur, cost in self._top(dim, period, col):
            entry = merged.setdefault((fold(key), cur), [[], 0.0])
            entry[0].append(key)
            entry[1] += cost
        totals: dict[str, float] = {}
        for (_, cur), (_, cost) in merged.items():
            totals[cur] = totals.get(cur, 0.0) + cost
        ranked = sorted(
            (
                Row(canonical(keys) or "(untagged)", cost, cur)
                for (_, cur), (keys, cost) in merged.items()
            ),
            key=lambda r: -r.cost,
        )
        n = q.top_n or 5
        answer = Answer(
            kind="top",
            title=f"Top {n} {DIM_LABELS[dim]}s",
            period=period,
            totals=totals,
            notes=notes,
            **base,
        )
        if len(totals) > 1:  # rank within each currency, never across
            answer.rows = [r for c in totals for r in [x for x in ranked if x.currency == c][:n]]
        else:
            answer.rows = ranked[:n]
        answer.more_rows = max(len(ranked) - len(answer.rows), 0)
        if dim == "project" and ranked:
            top = next((r.key for r in ranked if r.key != "(untagged)"), None)
            if top:
                answer.suggestions = [
                    f"{top} by service {period.label}",
                    f"compare {top} {period.label}",
                ]
        answer.suggestions.append(f"untagged spend {period.label}")
        return answer

    def _answer_breakdown(
        self,
        dim: str,
        keys: tuple[str, ...],
        sub: str,
        period: Period,
        col: str,
        answer: Answer,
        share_of_total: bool = False,
    ) -> Answer:
        rows = self._breakdown(dim, keys, sub, period, col)
        totals: dict[str, float] = {}
        for _, cur, cost in rows:
            totals[cur] = totals.get(cur, 0.0) + cost
        label = PRICING_LABELS.get if sub == "pricing" else None
        shown = [Row((label(k, k) if label else k) or "(no service)", v, c) for k, c, v in rows]
        if sub == "pricing":
            answer.rows = shown
        else:
            answer.rows = shown[:BREAKDOWN_ROWS]
            answer.more_rows = max(len(shown) - BREAKDOWN_ROWS, 0)
        answer.totals = totals
        if share_of_total:
            everything = self._totals("*", ("*",), period, col)
            for cur, value in totals.items():
                if everything.get(cur):
                    answer.notes.append(
                        f"{value / everything[cur] * 100:.1f}% of all {cur} spend in the period."
                    )
            answer.suggestions = [f"top 10 projects {period.label}"]
        elif sub == "pricing":
            spot = sum(r.cost for r in answer.rows if r.key == "spot")
            on_demand = sum(r.cost for r in answer.rows if r.key == "on-demand")
            if len(totals) == 1 and spot + on_demand:
                answer.notes.append(
                    f"Spot is {spot / (spot + on_demand) * 100:.0f}% of spot + on-demand spend."
                )
        return answer


def _like_for_like(period: Period, before: Period, data_through: str | None) -> tuple[Period, int]:
    """When the data stops inside ``period``, cut ``before`` to the same number of days."""
    if not data_through:
        return before, 0
    last = date.fromisoformat(data_through)
    if not (period.start <= last < period.end):
        return before, 0
    days = (last - period.start).days + 1
    if days >= before.days:
        return before, 0
    end = before.start + timedelta(days=days - 1)
    label = before.label if "same days" in before.label else f"{before.label}, same days"
    return Period(before.start, end, label, before.kind), days


def _unknown(miss: NoMatch, base: dict) -> Answer:
    what = (
        DIM_LABELS.get(miss.dim, "project, team, owner, service, account, provider or region")
        if miss.dim
        else "project, team, owner, service, account, provider or region"
    )
    message = f"No {what} named {miss.name!r} in the billing data."
    if miss.suggestions:
        message += " Did you mean " + " or ".join(repr(s) for s in miss.suggestions) + "?"
    return Answer(
        kind="unknown_name",
        title=f"Unknown name: {miss.name}",
        message=message,
        suggestions=[f"{s}" for s in miss.suggestions] or ["top 10 projects this month"],
        **base,
    )


def _freshness_notes(period: Period, data_through: str | None) -> list[str]:
    if not data_through:
        return []
    last = date.fromisoformat(data_through)
    if period.start > last:
        return [f"The data ends on {data_through}: nothing is known about this period yet."]
    if period.end > last:
        missing = (period.end - last).days
        return [
            f"Partial: the data ends on {data_through}, {missing} day(s) before the "
            "period does (providers publish with a delay)."
        ]
    return []


def _follow_ups(dim: str, label: str, period: Period) -> list[str]:
    if dim == "*":
        return [f"top 5 projects {period.label}", f"untagged spend {period.label}"]
    subject = f"{dim} {label}" if dim != "project" else label
    return [
        f"{subject} by service {period.label}",
        f"spot vs on-demand for {subject} {period.label}",
        f"compare {subject} {period.label}",
    ]


def _help_text() -> str:
    return (
        "Ask about cost by project, team, owner, service, account, provider or region, for "
        'today, yesterday, this/last week, this/last month, a month ("October", '
        '"2026-10"), "last 7 days", "since Monday", "since 2026-11-01" or '
        '"between 2026-11-01 and 2026-11-15". Also: top N, by service, compare … vs …, '
        'untagged spend, spot vs on-demand, and "billed cost of …" for the invoiced '
        "measure (the default is EffectiveCost: amortised, credits included)."
    )
