"""The only clock: what "today" and "now" are for an answer.

``--as-of D`` (or a Share button dated D) makes D today. ``now`` is the end of D when D is
before the real date (so a pinned day sees its own evening, not a fleet gone silent),
otherwise the real time. Question periods keep including today.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def real_now() -> datetime:
    return datetime.now(UTC)


def as_of(day: date | None, real: datetime) -> tuple[date, datetime]:
    """→ (today, now) for answers about ``day`` (None: the real date)."""
    if day is None or day >= real.date():
        return day or real.date(), real
    return day, datetime.combine(day, time.max, tzinfo=UTC)


def fleet_now(db, real: datetime) -> datetime:
    """The time the GPU fleet is evaluated at: ``real``, except for the demo's own fleet,
    which is seen at the moment it was built (it would go silent otherwise)."""
    from finops_bot.store import reads

    pinned = reads.demo_fleet_end(db)
    if pinned is None:
        return real
    end = datetime.fromisoformat(pinned)
    end = end if end.tzinfo else end.replace(tzinfo=real.tzinfo)
    return min(real, end)
