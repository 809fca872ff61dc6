"""Question → Answer. Parses, resolves the subject, picks the period, reads through the
store's read path (store.reads) and builds the answer object. ``today`` and ``now`` always
come from the caller: this module never reads the clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlite_utils import Database

from finops_bot.gpu.fleet import FleetRules
from finops_bot.gpu.prices import PriceBook
from finops_bot.providers import cloud_of
from finops_bot.questions import cost_answers as build
from finops_bot.questions.answer import Answer, Fresh
from finops_bot.questions.cost_answers import DIM_LABELS, Ctx, Subject
from finops_bot.questions.gpu_answers import gpu_answer
from finops_bot.questions.names import Candidates, Match, NameIndex, NoMatch
from finops_bot.questions.parse import ParseError, Query, parse
from finops_bot.questions.periods import Period, PeriodError, check_day, previous_period
from finops_bot.questions.suggest import EXAMPLES, by_shape, help_text
from finops_bot.store import reads
from finops_bot.store.reads import Where

LATEST_DAYS = 30  # no period given and nothing this month yet: the latest 30 days of data
SUBJECT_WORDS = "project, team, owner, service, account, provider, region or service category"


MAX_QUESTION_CHARS = 500


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
        self._fresh: list[Fresh] = []
        self._span: tuple[str | None, str | None] = (None, None)
        self._loaded: tuple[str | None, int] = (None, 0)

    def _refresh(self) -> None:
        """What changes only when a load lands, read again only then: names, freshness."""
        version = reads.cache_version(self.db)
        if self._names is None or version != self._names_version:
            self._names = NameIndex(reads.names(self.db))
            self._fresh = [
                Fresh(f.provider, f.source, f.data_through, f.loaded_at)
                for f in reads.freshness(self.db)
            ]
            self._span = reads.data_span(self.db)
            self._loaded = reads.loaded(self.db)
            self._names_version = version

    def names(self) -> NameIndex:
        self._refresh()
        return self._names

    def ask(self, question: str, today: date, now: datetime) -> Answer:
        """Answer one question as of ``today`` (periods) and ``now`` (the live GPU state)."""
        self._refresh()
        loaded_at, sources = self._loaded
        _, data_through = self._span
        base = dict(question=question, data_through=data_through, loaded_at=loaded_at)
        if len(question) > MAX_QUESTION_CHARS:  # parsing and did-you-mean stay cheap
            base["question"] = question[:80] + "…"
            return Answer(
                kind="error",
                message=f"That question is {len(question):,} characters long; ask in "
                f"{MAX_QUESTION_CHARS} or fewer, for example “top 5 projects last month”.",
                suggestions=EXAMPLES[:4],
                **base,
            )
        try:
            check_day(today, "today (--as-of)")
            q = parse(question, today)
        except (ParseError, PeriodError) as exc:
            return Answer(kind="error", message=f"{exc}.", suggestions=EXAMPLES[:4], **base)
        if q.kind == "help":
            return Answer(
                kind="help",
                title="What you can ask",
                suggestions=list(EXAMPLES),
                message=help_text(),
                **base,
            )
        if q.kind in ("idle_gpus", "idle_cost"):
            return gpu_answer(self.db, q, question, today, now, self.prices, self.fleet_rules)
        if not sources:
            return Answer(
                kind="empty",
                title="No billing data yet",
                suggestions=["python -m bot demo"],
                message="The cache has no billing data yet. Load some with `python -m bot "
                "import FILE` (FOCUS CSV or Parquet) or try `python -m bot demo`.",
                **base,
            )
        base["measure"] = q.measure or self.default_measure
        subject = self._subject(q) if q.kind != "untagged" else None
        if isinstance(subject, NoMatch):
            return self._unknown(subject, q, base)
        period, notes = self._period(q, today, data_through)
        ctx = Ctx(self.db, self.names(), base["measure"], base, notes)
        if isinstance(subject, Candidates):
            return build.candidates_answer(ctx, q, subject, period)
        if subject is None:
            return self._finish(build.untagged_answer(ctx, period), Where(), period)
        return self._answer(ctx, q, subject, period, today)

    def _answer(self, ctx: Ctx, q: Query, subject: Subject, period: Period, today: date):
        before = self._previous(q, period, today)
        fresh, lagging = self._freshness(subject.where, before.start, period)
        keep = {f.provider for f in fresh} - {f.provider for f in lagging}
        if lagging and keep:  # providers with no data yet in the period: out of both periods
            ctx.notes += [
                f"{f.provider}: no data yet for {period.label} (its data ends on "
                f"{f.data_through}); left out here and in the comparison."
                for f in lagging
            ]
            subject.where = subject.where.also("provider", keep)
        else:
            lagging = []
        last = max((f.data_through for f in fresh if f not in lagging), default=None)
        ctx.notes += _partial_notes(period, last)
        if q.kind == "top":
            answer = build.top_answer(ctx, q, subject, period)
        elif q.kind == "pricing":
            answer = build.pricing_answer(ctx, subject, period)
        elif q.kind == "breakdown":
            answer = build.breakdown_answer(ctx, subject, q.by or "service", period)
        else:
            before, clipped = build.like_for_like(
                period, before, date.fromisoformat(last) if last else None
            )
            if clipped:
                ctx.notes.append(
                    f"Compared like for like: the data ends on {last}, so the earlier "
                    f"period is cut to the same {clipped} day(s)."
                )
            answer = build.cost_answer(ctx, q, subject, period, before)
        _coverage(answer, period, self._span[0], last or self._span[1])
        answer.freshness = fresh
        return answer

    def _finish(self, answer: Answer, where: Where, period: Period) -> Answer:
        answer.freshness, _ = self._freshness(where, period.start, period)
        return answer

    def _subject(self, q: Query) -> Subject | Candidates | NoMatch:
        if not q.name:
            return Subject("*", "everything", Where())
        hit = self.names().resolve(q.dim, q.name)
        if isinstance(hit, Match):
            key = sorted(hit.keys)[0] if hit.dim == "account" else hit.label
            return Subject(hit.dim, hit.label, Where.of({hit.dim: hit.keys}), key)
        return hit

    def _period(self, q: Query, today: date, data_through: str | None) -> tuple[Period, list]:
        if q.period:
            return q.period, []
        this_month = Period(today.replace(day=1), today, "this month", "month")
        last = date.fromisoformat(data_through) if data_through else None
        if last is not None and last < this_month.start:
            start = last - timedelta(days=LATEST_DAYS - 1)
            latest = Period(start, last, f"the latest {LATEST_DAYS} days of data", "days")
            return latest, [
                f"No period given, and there is no data for this month yet (the data ends on "
                f"{last}): showing the latest {LATEST_DAYS} days of data."
            ]
        return this_month, ["No period given: showing this month."]

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

    def _freshness(self, where: Where, since: date, period: Period) -> tuple[list, list]:
        """The freshness of the providers in the answer, and those with no data yet in the
        period (they have spend before it but their data ends before it starts)."""
        entries = list(self._fresh)
        if not where.everything:
            present = {cloud_of(p) for p in reads.providers_of(self.db, where, since, period.end)}
            entries = [f for f in entries if cloud_of(f.provider) in present]
        through: dict[str, str] = {}
        for f in entries:
            through[f.provider] = max(through.get(f.provider, ""), f.data_through or "")
        lagging = [
            f
            for f in entries
            if through[f.provider] < period.start.isoformat()
            and f.data_through == through[f.provider]
        ]
        return entries, lagging

    def _unknown(self, miss: NoMatch, q: Query, base: dict) -> Answer:
        names = self.names()
        words = len(miss.name.split())
        sentence = words >= 3 or (words >= 2 and miss.dim is None)
        if sentence and not miss.suggestions:  # a phrase is never shown as a name
            return Answer(
                kind="not_understood",
                title="Not understood",
                message=f"I did not understand “{base['question'].strip()[:200]}”. Questions "
                "I can answer look like these:",
                suggestions=by_shape(base["question"], names),
                **base,
            )
        what = DIM_LABELS.get(miss.dim, SUBJECT_WORDS) if miss.dim else SUBJECT_WORDS
        message = f"No {what} named {miss.name!r} in the billing data."
        if miss.suggestions:
            message += " Did you mean " + " or ".join(repr(s) for s in miss.suggestions) + "?"
        asked = base["question"]
        retries = [_replace_name(asked, miss.name, s) for s in miss.suggestions]
        return Answer(
            kind="unknown_name",
            title=f"Unknown name: {miss.name}",
            message=message,
            suggestions=retries or by_shape(asked, names)[:2],
            did_you_mean=list(miss.suggestions),
            **base,
        )


def _replace_name(question: str, name: str, suggestion: str) -> str:
    lowered = question.lower()
    at = lowered.find(name.lower())
    if at < 0:
        return suggestion
    return question[:at] + suggestion + question[at + len(name) :]


def _coverage(answer: Answer, period: Period, first: str | None, last: str | None) -> None:
    """A period the data does not reach (a Monday's "this week", the 1st's "this month", a
    month before the data starts) shows no comparison and no "-100%" or "new" rows, and says
    which days the data covers; a comparison period before the data is dropped."""
    start, end = (date.fromisoformat(d) if d else None for d in (first, last))
    if start is None or end is None:
        return
    if period.start > end or period.end < start:
        answer.previous, answer.rows, answer.more_rows = None, [], 0
        gap = (period.start - end).days if period.start > end else 0
        answer.nothing = (
            f"Nothing is known about this period yet: the data ends on {end}"
            + (" (billing data lags a day or two)." if gap <= 3 else f", {gap} days before it.")
            if gap
            else f"No data for this period: the data starts on {start}."
        )
        answer.notes = [n for n in answer.notes if "nothing is known" not in n]
        if answer.period and answer.period.label.startswith(("this ", "today")):
            earlier = answer.period.label.replace("this ", "last ").replace("today", "yesterday")
            subject = " ".join(f"{d} {n}" for d, n in answer.filters.items()) or "total spend"
            answer.suggestions = [f"{subject} {earlier}"]
        return
    before = answer.previous.period if answer.previous else None
    if before is not None and before.end < start:
        answer.previous = None
        answer.rows = [r for r in answer.rows if r.cost]
        for r in answer.rows:
            r.previous_cost = None
        answer.notes.append(f"No comparison: the data starts on {start}, after {before.label}.")


def _partial_notes(period: Period, last: str | None) -> list[str]:
    if not last:
        return []
    end = date.fromisoformat(last)
    if period.start > end:
        return [f"The data ends on {last}: nothing is known about this period yet."]
    if period.end > end:
        missing = (period.end - end).days
        return [
            f"Partial: the data ends on {last}, {missing} day(s) before the period does "
            "(providers publish with a delay)."
        ]
    return []
