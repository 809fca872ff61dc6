"""Detection over the cache: every daily usage series of ``[anomalies] dimensions`` (one
index scan per dimension, through the store's read path), episodes per series, one alert
per event on its narrowest subject (broader ones are ``part_of`` it), purchases over
``purchase_event_min`` as events of their own, ranked root causes for what is stored.
``through`` (the last charge day to use) always comes from the caller."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sqlite_utils import Database

from finops_bot.anomalies.detect import Episode, detect
from finops_bot.anomalies.explain import root_causes
from finops_bot.anomalies.gpu import gpu_activity
from finops_bot.anomalies.rules import AnomalyRules
from finops_bot.days import day_number
from finops_bot.store import anomalies as stored
from finops_bot.store import reads
from finops_bot.store.anomalies import Saved, StoredAnomaly, anomaly_id
from finops_bot.store.db import WriteWait
from finops_bot.store.reads import Where

USAGE = ("Usage",)
EXPLAINS = 0.8  # a narrower subject carrying this much of a broader one's change explains it
HISTORY_DAYS = 400  # how far back a run reads (a level shift's regime, the weekly profile)


@dataclass(frozen=True)
class Found:
    anomalies: list[StoredAnomaly]  # alerts and the broader subjects part of them
    events: list[StoredAnomaly]  # commitment purchases
    span: tuple[date, date]  # the days the run read
    series: int  # how many series it looked at


def find(
    db: Database,
    rules: AnomalyRules,
    through: date,
    measure: str = "EffectiveCost",
    *,
    dims: Sequence[str] | None = None,
    explain: bool = True,
    labels: dict[str, str] | None = None,
    to_date: bool = True,
    since: date | None = None,
) -> Found:
    """Every episode in the data through ``through`` (inclusive). ``labels``: id → a
    person's status (an episode marked expected makes its new level the baseline).
    ``to_date``: root causes over the episode to date (else through the day it alerted,
    as a backtest reports it)."""
    first, last = reads.data_span(db)
    if first is None:
        return Found([], [], (through, through), 0)
    end = min(date.fromisoformat(last), through)  # a day past the data: the data's last
    reach = end - timedelta(days=HISTORY_DAYS)
    if since is not None:  # a backtest from ``since``: its history before it too
        reach = min(reach, since - timedelta(days=HISTORY_DAYS))
    start = max(date.fromisoformat(first), reach)
    if end < start:
        return Found([], [], (start, start), 0)
    labels = labels if labels is not None else stored.labels(db)
    found, count = [], 0
    for dim in dims or rules.dimensions:
        for (key, currency), values in _series(db, dim, start, end, measure).items():
            if not key:  # untagged spend has no owner to tell; its service or account does
                continue
            count += 1
            limits = rules.for_subject(dim, key)
            ident = _ident(measure, dim, key, currency)
            feedback = _feedback(labels, ident, start)
            for e in detect(values, limits, feedback):
                found.append(_anomaly(e, measure, dim, key, currency, start, ident))
    _link(db, found, dims or rules.dimensions)
    heartbeats = explain and db.execute("SELECT 1 FROM gpu_minutes LIMIT 1").fetchone()
    if explain:
        for a in found:
            if a.part_of is None:
                a.root_cause = root_causes(
                    db, a.dim, a.key, a.currency, date.fromisoformat(a.start),
                    date.fromisoformat(a.last_day if to_date else a.detected_on), measure,
                    a.expected_to_date if to_date else a.expected,
                    a.actual_to_date - a.expected_to_date if to_date else a.impact, start,
                )  # fmt: skip
                if heartbeats:
                    a.gpu_activity = gpu_activity(
                        db, a.root_cause, date.fromisoformat(a.start),
                        date.fromisoformat(a.last_day if to_date else a.detected_on),
                    )  # fmt: skip
    events = purchases(db, rules, start, end)
    return Found(found, events, (start, end), count)


def save(
    db: Database, result: Found, dims: Sequence[str], now: datetime, measure: str,
    wait: WriteWait | None = None,
) -> Saved:  # fmt: skip
    """Store a run (atomic, idempotent): see store.anomalies.save."""
    return stored.save(
        db,
        [*result.anomalies, *result.events],
        measure=measure,
        dims=[*dims, "purchase"],
        span=result.span,
        now=now,
        wait=wait,
    )


def _series(db: Database, dim: str, start: date, end: date, measure: str) -> dict:
    """(key, currency) → daily usage array over [start, end] (0 where nothing was billed)."""
    first, n = day_number(start), (end - start).days + 1
    out: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(n))
    for key, currency, day, total in reads.all_series(db, dim, start, end, measure, USAGE):
        out[(key, currency)][day - first] += total
    return dict(out)


def _ident(measure: str, dim: str, key: str, currency: str) -> Callable[[date], str]:
    return lambda day: anomaly_id(measure, dim, key, currency, day)


def _feedback(labels: dict[str, str], ident: Callable, start: date):
    if not any(status == "expected" for status in labels.values()):
        return None
    return lambda index: labels.get(ident(start + timedelta(days=index))) == "expected"


def _anomaly(e: Episode, measure, dim, key, currency, start: date, ident) -> StoredAnomaly:
    day = lambda i: (start + timedelta(days=int(i))).isoformat()  # noqa: E731
    return StoredAnomaly(
        id=ident(start + timedelta(days=e.start)),
        measure=measure,
        dim=dim,
        key=key,
        currency=currency,
        kind=e.kind,
        start=day(e.start),
        detected_on=day(e.detected_on),
        last_day=day(e.last_day),
        expected=round(e.alerted[0], 6),
        actual=round(e.alerted[1], 6),
        impact=round(e.alerted[1] - e.alerted[0], 6),
        status=e.status if e.status in ("open", "expected") else "resolved",
        expected_to_date=round(e.expected, 6),
        actual_to_date=round(e.actual, 6),
    )


def _link(db: Database, found: list[StoredAnomaly], dims: Sequence[str]) -> None:
    """One alert per event: an anomaly whose change a narrower subject's (starting within a
    day, same currency, sharing charges) carries at least EXPLAINS of is part of it."""
    by_start: dict[tuple[str, str], list[StoredAnomaly]] = defaultdict(list)
    for a in found:
        by_start[(a.start, a.currency)].append(a)
    order = {d: i for i, d in enumerate(dims)}
    size = lambda x: (round(x.expected, 2), order.get(x.dim, len(order)))  # noqa: E731
    for a in sorted(found, key=size):
        day = date.fromisoformat(a.start)
        near = [
            n
            for d in (day - timedelta(days=1), day, day + timedelta(days=1))
            for n in by_start.get((d.isoformat(), a.currency), [])
            if n is not a and n.dim != a.dim and size(n) < size(a)
            and n.impact >= EXPLAINS * a.impact
        ]  # fmt: skip
        near = [n for n in sorted(near, key=size) if _overlap(db, a, n)]
        if near:
            target = near[0]
            a.part_of = target.part_of or target.id


def _overlap(db: Database, a: StoredAnomaly, n: StoredAnomaly) -> bool:
    where = Where.of({a.dim: [a.key]}).also(n.dim, [n.key])
    return bool(
        reads.providers_of(db, where, date.fromisoformat(a.start), date.fromisoformat(a.last_day))
    )


def purchases(db: Database, rules: AnomalyRules, start: date, end: date) -> list[StoredAnomaly]:
    """Commitment purchases (ChargeCategory Purchase) over ``purchase_event_min`` BilledCost
    on one day, per service: events of their own, never usage anomalies."""
    out = []
    for day, currency, total in reads.series(db, Where(), start, end, "BilledCost", ("Purchase",)):
        if total < rules.purchase_event_min:
            continue
        d = date.fromisoformat(day)
        for service, cur, value in reads.grouped(
            db, Where(), "service", d, d, "BilledCost", ("Purchase",)
        ):
            if cur != currency or value < rules.purchase_event_min:
                continue
            out.append(
                StoredAnomaly(
                    id=anomaly_id("BilledCost", "purchase", service, currency, day),
                    measure="BilledCost",
                    dim="purchase",
                    key=service,
                    currency=currency,
                    kind="purchase",
                    start=day,
                    detected_on=day,
                    last_day=day,
                    expected=0.0,
                    actual=round(value, 6),
                    impact=round(value, 6),
                    status="open",
                    actual_to_date=round(value, 6),
                )
            )
    return out
