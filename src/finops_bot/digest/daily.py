"""The daily digest, composed (pure: reads through the store's read path, within the
audience's access view; ``today`` and ``now`` from the caller): per provider its latest
complete billing day (named: billing lags 24–72 h) against the same weekday a week before
and the 4-week daily average; the top movers; new anomalies with their root cause, dollars
and GPU activity; purchases as events; the untagged share (unscoped digests only);
freshness per source, with a warning for a source not loaded for a day; and the last 30
days by the scope's top projects for the chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlite_utils import Database

from finops_bot.providers import cloud_of
from finops_bot.questions.scoping import View
from finops_bot.store import anomalies as stored
from finops_bot.store import reads
from finops_bot.store.anomalies import StoredAnomaly

NEW_DAYS = 3  # anomalies detected in the last days of data are "new"
MOVERS = 5
CHART_DAYS = 30
CHART_PROJECTS = 5
STALE_HOURS = 24


@dataclass(frozen=True)
class ProviderDay:
    provider: str
    day: str  # the latest complete billing day
    currency: str
    total: float
    week_before: float | None  # the same weekday a week before
    average_4w: float | None  # the daily average of the 4 weeks before


@dataclass(frozen=True)
class Mover:
    project: str
    currency: str
    now: float
    before: float  # the same weekday a week before


@dataclass
class DailyDigest:
    name: str
    as_of: date
    measure: str
    scope: str | None  # the access scope, described (None: everything)
    days: list[ProviderDay] = field(default_factory=list)
    movers: list[Mover] = field(default_factory=list)
    anomalies: list[StoredAnomaly] = field(default_factory=list)
    events: list[StoredAnomaly] = field(default_factory=list)
    untagged: dict[str, float] | None = None  # currency → share of the last 7 days
    freshness: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    chart: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # project → days
    chart_currency: str | None = None
    anomaly_days: list[str] = field(default_factory=list)
    span: int = 1  # days per figure: 1 (daily) or 7 (weekly)
    budgets: list = field(default_factory=list)  # forecast.budgets.BudgetStatus, visible
    crossings: list = field(default_factory=list)  # store.budget_ledger.Crossing, last day
    uncrossed: list = field(default_factory=list)  # crossings a restatement un-did

    @property
    def empty(self) -> bool:
        return not self.days


def compose_daily(
    db: Database, view: View, name: str, today: date, now: datetime, measure: str
) -> DailyDigest:
    return compose(db, view, name, today, now, measure, span=1)


def compose_weekly(
    db: Database, view: View, name: str, today: date, now: datetime, measure: str
) -> DailyDigest:
    """The same digest over the latest complete 7 days, against the 7 before and the
    weekly average of the 4 weeks before; anomalies detected in those 7 days."""
    return compose(db, view, name, today, now, measure, span=7)


def compose(
    db: Database, view: View, name: str, today: date, now: datetime, measure: str, span: int
) -> DailyDigest:
    digest = DailyDigest(name, today, measure, _described(view), span=span)
    if view.unknown:
        digest.warnings.append(
            f"The scope names what the billing data does not hold: {', '.join(view.unknown)} "
            "(check the spelling)"
        )
    everything, length = view.all, timedelta(days=span)
    for provider, through in _providers(db, everything, today):
        last = through - timedelta(days=1)  # the last loaded day may still be filling
        first = last - length + timedelta(days=1)
        where = everything.also("provider", provider[1])
        for currency, total in reads.totals(db, where, first, last, measure).items():
            week = reads.totals(db, where, first - timedelta(days=7), last - timedelta(days=7),
                                measure)  # fmt: skip
            month = reads.totals(db, where, first - timedelta(days=28), first - timedelta(days=1),
                                 measure)  # fmt: skip
            label = last.isoformat() if span == 1 else f"{first} … {last}"
            average = month[currency] / 28 * span if currency in month else None
            digest.days.append(
                ProviderDay(provider[0], label, currency, total, week.get(currency), average)
            )
    if digest.empty:
        return digest
    last = max(date.fromisoformat(d.day[-10:]) for d in digest.days)
    digest.movers = _movers(db, view, last, measure, span)
    _anomalies(db, digest, view, last)
    if not view.limited:
        digest.untagged = _untagged(db, last, measure)
    _freshness(db, digest, now)
    _chart(db, digest, view, last, measure)
    return digest


def _described(view: View) -> str | None:
    """The scope as a visible post may name it: only names inside it (a digest's configured
    names the channel's grant leaves out are not shown)."""
    if not view.limited:
        return None
    if view.scope.label:
        return view.scope.label
    grants = []
    for grant in view.scope.grants or ():
        terms = [
            f"{dim} {' or '.join(kept)}"
            for dim, values in grant.terms
            if (kept := [v for v in values if view.names.exactly(dim, v)])
        ]
        if terms:
            grants.append(", ".join(terms))
    return "; or ".join(grants) or "nothing the billing data holds"


def _providers(db, everything, today: date) -> list[tuple[tuple[str, list[str]], date]]:
    """((cloud name, its stored spellings), its last charge day) per provider in the view."""
    latest: dict[str, list] = {}
    for f in reads.freshness(db):
        cloud = cloud_of(f.provider)
        entry = latest.setdefault(cloud, [f.provider, set(), ""])
        entry[1].add(f.provider)
        entry[2] = max(entry[2], f.data_through or "")
    start = today - timedelta(days=40)
    present = {cloud_of(p) for p in reads.providers_of(db, everything, start, today)}
    return [
        ((name, sorted(spellings)), min(date.fromisoformat(through), today))
        for cloud, (name, spellings, through) in sorted(latest.items())
        if through and cloud in present
    ]


def _movers(db, view: View, day: date, measure: str, span: int = 1) -> list[Mover]:
    first, back = day - timedelta(days=span - 1), timedelta(days=7)
    now, then = reads.grouped_pair(
        db, view.all, "project", (first, day), (first - back, day - back), measure
    )
    before = {(v, c): x for v, c, x in then}
    moved = [Mover(v or "(untagged)", c, x, before.get((v, c), 0.0)) for v, c, x in now]
    moved += [Mover(v or "(untagged)", c, 0.0, x) for (v, c), x in before.items()
              if (v, c) not in {(m, cc) for m, cc, _ in now}]  # fmt: skip
    if view.limited:
        moved = [m for m in moved if m.project != "(untagged)"]
    moved.sort(key=lambda m: -abs(m.now - m.before))
    return moved[:MOVERS]


def _anomalies(db, digest: DailyDigest, view: View, last: date) -> None:
    since = (last - timedelta(days=max(NEW_DAYS, digest.span) - 1)).isoformat()
    window = (last - timedelta(days=CHART_DAYS - 1)).isoformat()
    for a in stored.stored(db, measure=None):
        if a.status in ("withdrawn", "not_anomaly") or a.detected_on > last.isoformat():
            continue  # (detected after the digest's day: not known then)
        alerted = a.kind != "purchase" and a.part_of is None and a.start >= window
        if alerted and view.sees(db, a.dim, a.key):
            digest.anomaly_days.append(a.start)  # marked on the chart
        if a.detected_on < since:
            continue
        if a.kind == "purchase":
            if not view.limited:
                digest.events.append(a)
        elif a.part_of is None and view.sees(db, a.dim, a.key):
            digest.anomalies.append(a)
    digest.anomalies.sort(key=lambda a: -a.impact)


def _untagged(db, last: date, measure: str) -> dict[str, float]:
    start = last - timedelta(days=6)
    every = reads.totals(db, reads.Where(), start, last, measure)
    untagged = reads.totals(db, reads.Where.of({"project": [""]}), start, last, measure)
    return {c: untagged.get(c, 0.0) / t for c, t in every.items() if t}


def _freshness(db, digest: DailyDigest, now: datetime) -> None:
    for f in reads.freshness(db):
        if digest.scope is None:  # a scoped digest names no source (see access)
            digest.freshness.append((f.provider, f.source, f.data_through, f.loaded_at))
        if f.loaded_at and _hours_since(f.loaded_at, now) > STALE_HOURS:
            who = f.provider if digest.scope else f"{f.provider} ({f.source})"
            digest.warnings.append(
                f"{who}: not loaded for {_hours_since(f.loaded_at, now) // 24:.0f} day(s) "
                f"(last {f.loaded_at[:16]}); check its sync"
            )


def _hours_since(stamp: str, now: datetime) -> float:
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if then.tzinfo is None:
        then = then.replace(tzinfo=now.tzinfo)
    return (now - then).total_seconds() / 3600


def _chart(db, digest: DailyDigest, view: View, last: date, measure: str) -> None:
    start = last - timedelta(days=CHART_DAYS - 1)
    ranked = reads.grouped(db, view.all, "project", start, last, measure)
    currency = ranked[0][1] if ranked else None
    top = [v for v, c, _ in ranked if c == currency and v][:CHART_PROJECTS]
    for project in top:
        where = view.all.also("project", [project])
        digest.chart[project] = [
            (day, total) for day, c, total in reads.series(db, where, start, last, measure)
            if c == currency
        ]  # fmt: skip
    digest.chart_currency = currency
