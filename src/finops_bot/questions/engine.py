"""Question → Answer. Parses, resolves the subject, picks the period, reads through the
store's read path (store.reads) and builds the answer object. ``today`` and ``now`` always
come from the caller: this module never reads the clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlite_utils import Database

from finops_bot.access import Scope
from finops_bot.forecast.budget_rules import BudgetRules
from finops_bot.gpu.burn import live_estimate
from finops_bot.gpu.fleet import FleetRules
from finops_bot.gpu.prices import PriceBook
from finops_bot.providers import fold
from finops_bot.questions import commitment_answers as commitments
from finops_bot.questions import cost_answers as build
from finops_bot.questions import outlook_answers as outlook
from finops_bot.questions import scoping
from finops_bot.questions import trend_answers as trends
from finops_bot.questions import why_answers as why
from finops_bot.questions.answer import Answer, Fresh
from finops_bot.questions.budget_answers import budgets_answer
from finops_bot.questions.cost_answers import DIM_LABELS, Ctx, Subject
from finops_bot.questions.coverage import coverage, freshness_of, partial_notes, replace_name
from finops_bot.questions.kinds import FLEET_KINDS, ORG_ONLY, fleet_answer
from finops_bot.questions.library import KINDS as LIBRARY_KINDS
from finops_bot.questions.library_answers import library_answer
from finops_bot.questions.names import Candidates, Match, NameIndex, NoMatch
from finops_bot.questions.parse import ME, ParseError, Query, parse
from finops_bot.questions.periods import Period, PeriodError, check_day, previous_period
from finops_bot.questions.rules import Asker, QuestionRules
from finops_bot.questions.scoping import Refused, View
from finops_bot.questions.suggest import EXAMPLES, by_shape, help_text
from finops_bot.questions.words import counted
from finops_bot.store import reads
from finops_bot.store.reads import Where

WHOLE = ("untagged", "movers", "names", "budget")  # answers about all spend, no subject
OUTLOOK = ("forecast", "run_rate")  # the current month or quarter, not a period asked
LATEST_DAYS = 30  # no period given and nothing this month yet: the latest 30 days of data
SUBJECT_WORDS = "project, team, owner, service, account, provider, region or service category"


MAX_QUESTION_CHARS = 500
log = logging.getLogger("finops_bot.access")


class Unanswerable(ValueError):
    """The question names something the engine cannot stand for (the message says why)."""


class Engine:
    """Answers questions from one open cache. Not thread-safe: one per thread."""

    def __init__(
        self,
        db: Database,
        default_measure: str = "EffectiveCost",
        prices: PriceBook | None = None,
        fleet_rules: FleetRules | None = None,
        rules: QuestionRules | None = None,
        who: Callable[[str], str | None] | None = None,
        budgets: BudgetRules | None = None,
    ):
        """``rules``: the fiscal year, nicknames, people and tag dimensions; ``who``: a
        Slack user id → their email (the bot looks it up; [people] is asked first);
        ``budgets``: the [[budgets]] budget questions answer about."""
        self.db = db
        self.budgets = budgets or BudgetRules()
        self.rules = rules or QuestionRules()
        self.who = who
        self.default_measure = default_measure
        self.prices = prices or PriceBook()
        self.fleet_rules = fleet_rules or FleetRules()
        self._names: NameIndex | None = None
        self._names_version: tuple | None = None
        self._fresh: list[Fresh] = []
        self._span: tuple[str | None, str | None] = (None, None)
        self._loaded: tuple[str | None, int] = (None, 0)
        self._views: dict = {}  # access scope → View, for one cache version

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
            self._views = {}
            self._names_version = version

    def names(self) -> NameIndex:
        self._refresh()
        return self._names

    def view(self, scope: Scope | None) -> View:
        """The access scope as store filters and names, built once per cache version."""
        self._refresh()
        key = None if scope is None or scope.everything else scope.grants
        found = self._views.get(key)
        if found is None:
            if len(self._views) > 64:
                self._views.clear()
            found = scoping.view(self.db, scope, self.names(), self.rules.aliases)
            self._views[key] = found
        return replace(found, scope=scope) if scope is not None else found

    def ask(
        self,
        question: str,
        today: date,
        now: datetime,
        asker: Asker | None = None,
        scope: Scope | None = None,
    ) -> Answer:
        """Answer one question as of ``today`` (periods) and ``now`` (the live GPU state);
        ``asker``: who asked (for "my spend"), from the signed Slack user id; ``scope``:
        what the audience may see (finops_bot.access; None: everything)."""
        view = self.view(scope)
        answer = self._ask(question, today, now, asker, view)
        if view.limited:  # what the scope can never answer is never suggested
            answer.suggestions = [s for s in answer.suggestions if not scoping.never(s)]
            if view.unknown and answer.kind not in ("help", "refused"):
                answer.notes.append(
                    "The scope names what the billing data does not hold: "
                    f"{', '.join(view.unknown)} (no spend of it here; check the spelling)."
                )
        return answer

    def _ask(self, question: str, today: date, now: datetime, asker, view: View) -> Answer:
        loaded_at, sources = self._loaded
        _, data_through = self._span
        base = dict(question=question, data_through=data_through, loaded_at=loaded_at)
        if len(question) > MAX_QUESTION_CHARS:  # parsing and did-you-mean stay cheap
            return _too_long(question, base)
        try:
            check_day(today, "today (--as-of)")
            q = parse(
                question,
                today,
                fiscal_start=self.rules.fiscal_start,
                dimensions=self.rules.dimensions,
            )
        except (ParseError, PeriodError) as exc:
            return Answer(kind="error", message=f"{exc}.", suggestions=EXAMPLES[:4], **base)
        if q.kind == "help":
            return Answer(
                kind="help",
                title="What you can ask",
                suggestions=scoping.examples(view) if sources else list(EXAMPLES),
                message=help_text(),
                **base,
            )
        if view.scope.nothing or (view.limited and q.kind in ORG_ONLY):
            reason = "nothing is granted here" if view.scope.nothing else ORG_ONLY[q.kind]
            return self._refused(view, base, reason)
        if q.kind in FLEET_KINDS:  # heartbeats first, billed cost where billing covers
            gpu_scope = view.scope if view.limited else None
            return fleet_answer(self.db, q, question, today, now, self.prices,
                                self.fleet_rules, gpu_scope)  # fmt: skip
        if not sources:
            return _empty(base)
        base["measure"] = q.measure or self.default_measure
        try:
            subject = self._subject(q, asker, view) if q.kind not in WHOLE else None
            if q.kind == "compare_subjects" and not isinstance(subject, Candidates | NoMatch):
                other = self._subject(replace(q, dim=q.other_dim, name=q.other_name), asker, view)
        except Unanswerable as exc:
            return Answer(kind="error", message=str(exc), suggestions=EXAMPLES[:3], **base)
        except Refused as exc:
            return self._refused(view, base, str(exc))
        if q.kind == "compare_subjects" and isinstance(subject, Subject):
            subject = other if isinstance(other, Candidates | NoMatch) else (subject, other)
        if isinstance(subject, NoMatch) and q.kind == "tag_coverage" and q.detail is None:
            q = replace(q, dim=None, name=None, detail=q.name)  # "tag coverage for env"
            subject = self._subject(q, asker, view)
        if isinstance(subject, NoMatch):
            return self._unknown(subject, q, base, view)
        if q.kind in OUTLOOK and isinstance(subject, Subject):
            return self._outlook(q, subject, base, view, today, now)
        period, notes = self._period(q, today, data_through)
        ctx = Ctx(
            self.db,
            view.names,
            base["measure"],
            base,
            [*q.notes, *notes],
            view.all,
            view.describe(),
        )
        if isinstance(subject, Candidates):
            return build.candidates_answer(ctx, q, subject, period)
        if q.kind in WHOLE:
            return self._whole(ctx, q, period, today, view, now)
        if isinstance(subject, tuple):
            answer = trends.compare_subjects_answer(ctx, subject, period)
            return self._finish(answer, ctx.all, period)
        return self._answer(ctx, q, subject, period, today, view)

    def _refused(self, view: View, base: dict, reason: str) -> Answer:
        """Outside the access scope: what they asked, why, and whom to ask; no cost query."""
        log.info("refused %r (scope: %s): %s", base["question"][:200], view.describe(), reason)
        asked = base["question"]
        return Answer(
            **{**base, "measure": None},
            kind="refused",
            title=_outside(view),
            message=view.scope.refusal(asked, reason),
            suggestions=scoping.examples(view)[:3],
            scope=view.describe(),
        )

    def _whole(self, ctx: Ctx, q: Query, period: Period, today: date, view, now) -> Answer:
        """Answers about all spend: untagged, what moved, the names a dimension holds."""
        if q.kind == "budget":
            return self._budgets(ctx, q, today, view, now)
        if q.kind == "untagged":
            answer = build.untagged_answer(ctx, period)
        elif q.kind == "movers":
            last = self._span[1]
            answer = trends.movers_answer(
                ctx, q, period, today, date.fromisoformat(last) if last else None
            )
        else:
            answer = trends.names_answer(ctx, q, period)
        return self._finish(answer, ctx.all, period)

    def _live(self, now: datetime):
        """The live GPU estimate (heartbeats × price) for the days billing lacks."""
        return lambda start, end, keep: live_estimate(self.db, self.prices, start, end, now, keep)

    def _outlook(self, q: Query, subject: Subject, base: dict, view: View, today, now) -> Answer:
        answer = outlook.outlook_answer(
            self.db, q, subject, base, view, today, self._live(now), self.budgets.budgets,
            self.rules.fiscal_start,
        )  # fmt: skip
        if answer.period is not None:
            answer.freshness, _ = self._freshness(subject.where, answer.period.start, answer.period)
        return answer

    def _budgets(self, ctx: Ctx, q: Query, today: date, view: View, now: datetime) -> Answer:
        answer = budgets_answer(self.db, self.budgets.budgets, self.rules.fiscal_start, ctx, q,
                                today, view, self._live(now))  # fmt: skip
        answer.freshness = list(self._fresh)
        return answer

    def _answer(self, ctx: Ctx, q: Query, subject: Subject, period: Period, today: date, view):
        per_key = q.kind in LIBRARY_KINDS or q.kind in commitments.KINDS
        if per_key and subject.dim and subject.dim.startswith("tag:"):
            return _untracked_tag(subject, ctx.base)
        if q.kind in LIBRARY_KINDS:
            answer = library_answer(ctx, q, subject, period, today)
            return self._finish(answer, subject.where, period)
        if q.kind in commitments.KINDS:
            answer = commitments.commitment_answer(ctx, q, subject, period, today)
            return self._finish(answer, subject.where, period)
        if q.kind == "anomalies":  # read from the stored detection results
            answer = why.anomalies_answer(ctx, view, subject, period)
            return self._finish(answer, subject.where, period)
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
        ctx.notes += partial_notes(period, last)
        if q.kind == "why":  # tags too: it says what it cannot decompose
            answer = why.why_answer(ctx, q, view, subject, period, before, last)
        elif any(d and d.startswith("tag:") for d in (subject.dim, q.top_dim, q.by)):
            answer = trends.tag_answer(ctx, q, subject, period, before)
        elif q.kind == "top":
            answer = build.top_answer(ctx, q, subject, period)
        elif q.kind == "series":
            answer = trends.series_answer(
                ctx, q, subject, period, date.fromisoformat(last) if last else None
            )
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
                    f"period is cut to the same {counted(clipped, 'day')}."
                )
            answer = build.cost_answer(ctx, q, subject, period, before)
        coverage(answer, period, self._span[0], last or self._span[1])
        answer.freshness = fresh
        return trends.as_hours(answer) if ctx.measure == "GPUHours" else answer

    def _finish(self, answer: Answer, where: Where, period: Period) -> Answer:
        answer.freshness, _ = self._freshness(where, period.start, period)
        return answer

    def _subject(self, q: Query, asker: Asker | None, view: View) -> Subject | Candidates | NoMatch:
        if not q.name:
            label = f"scope ({view.describe()})" if view.limited else "everything"
            return Subject("*", label, view.all)
        dim, name = self._who(q.dim, q.name, asker)
        dim, name = self.rules.aliases.get(fold(name), (dim, name))
        if dim and dim.startswith("tag:"):  # read from the facts, not matched to names
            return Subject(dim, name, view.all, name)
        if dim == "gpu" and name == "*":
            models = view.names.values("gpu")
            if not models:
                raise Unanswerable(
                    "No GPU charges in the billing data: GPU instances are recognised by "
                    "their instance type or SKU (p4d, p5, a2, a3, ND…), which the cache "
                    "only has for files imported since this version; import them again."
                )
            where = Where.of({"gpu": models}).inside(view.within)
            return Subject("gpu", "GPU spend, every model", where, "*")
        hit = view.names.resolve(dim, name)
        if isinstance(hit, NoMatch) and name.endswith("s") and len(name) > 3:
            plural_hit = view.names.resolve(dim, name[:-1])  # "h100s", "a100s"
            hit = hit if isinstance(plural_hit, NoMatch) else plural_hit
        if isinstance(hit, Match):
            key = sorted(hit.keys)[0] if hit.dim == "account" else hit.label
            where = view.subject(self.db, hit.dim, Where.of({hit.dim: hit.keys}))
            return Subject(hit.dim, hit.label, where, key)
        return hit

    def _who(self, dim: str | None, name: str, asker: Asker | None) -> tuple[str | None, str]:
        """ "my" and a Slack mention → the person's email (an owner)."""
        if name == ME:
            if asker is None or not asker.email:
                raise Unanswerable(
                    "“my” means the person asking: ask in Slack, or say owner NAME "
                    "(e.g. “owner alice@acme.ai last month”)."
                )
            return "owner", asker.email
        if name.startswith("@@"):
            user = name[2:]
            email = self.rules.email_of(user) or (self.who(user) if self.who else None)
            if not email:
                raise Unanswerable(
                    f"I don't know <@{user}>'s email, which their costs are tagged with: "
                    "add them under [people] in the config, or ask with owner EMAIL."
                )
            return "owner", email
        return dim, name

    def _period(self, q: Query, today: date, data_through: str | None) -> tuple[Period, list]:
        if q.period:
            return q.period, []
        if q.kind in why.KINDS:  # the last 7 days (of data)
            return why.latest_week(today, data_through)
        if q.kind == "series":
            last = min(date.fromisoformat(data_through), today) if data_through else today
            start = last - timedelta(days=LATEST_DAYS - 1)
            return Period(start, last, f"the latest {LATEST_DAYS} days", "days"), [
                f"No period given: showing the latest {LATEST_DAYS} days of data."
            ]
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
        return freshness_of(self.db, self._fresh, where, since, period)

    def _unknown(self, miss: NoMatch, q: Query, base: dict, view: View) -> Answer:
        names = view.names
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
        guess = ""
        if miss.suggestions:
            guess = " Did you mean " + " or ".join(repr(s) for s in miss.suggestions) + "?"
        asked = base["question"]
        retries = [replace_name(asked, miss.name, s) for s in miss.suggestions]
        answer = Answer(
            kind="unknown_name",
            title=f"Unknown name: {miss.name}",
            message=message + guess,
            suggestions=retries or by_shape(asked, names)[:2],
            did_you_mean=list(miss.suggestions),
            **base,
        )
        if view.limited:  # outside the scope or nowhere: one answer, so nothing is revealed
            if not isinstance(self.names().resolve(miss.dim, miss.name), NoMatch):
                log.info("refused %r (scope: %s): outside", asked[:200], view.describe())
            answer.kind, answer.measure, answer.scope = "refused", None, view.describe()
            answer.title = f"{_outside(view)}, or unknown"
            reason = "or it names nothing in the billing data"
            answer.message = view.scope.refusal(asked, reason, guess.strip())
        return answer


def _outside(view: View) -> str:
    return (
        "Outside what this channel may see"
        if view.scope.who == "this channel"
        else ("Outside what you may see")
    )


def _too_long(question: str, base: dict) -> Answer:
    return Answer(
        kind="error",
        message=f"That question is {len(question):,} characters long; ask in "
        f"{MAX_QUESTION_CHARS} or fewer, for example “top 5 projects last month”.",
        suggestions=EXAMPLES[:4],
        **{**base, "question": question[:80] + "…"},
    )


def _empty(base: dict) -> Answer:
    return Answer(
        kind="empty",
        title="No billing data yet",
        suggestions=["python -m bot demo"],
        message="The cache has no billing data yet. Load some with `python -m bot "
        "import FILE` (FOCUS CSV or Parquet) or try `python -m bot demo`.",
        **base,
    )


def _untracked_tag(subject: Subject, base: dict) -> Answer:
    """The library's and the commitments' columns are summed per dimension; a tag key that
    is not one has no rows there, and summing everything under its title would be wrong."""
    key = subject.dim.removeprefix("tag:")
    return Answer(
        kind="error",
        message=(
            f"I can't answer that for tag {key} {subject.key}: the columns it reads are "
            f"kept per dimension, and `{key}` is not one. Ask 'cost for tag {key} {subject.key}' "
            f'for its total, or add "{key}" to [allocation] dimensions and import again.'
        ),
        suggestions=[f"cost for tag {key} {subject.key} last month"],
        **base,
    )
