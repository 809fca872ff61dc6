"""Who owns what an alert or an anomaly is about: the owner itself, the ``[projects]``
routing, else the owner tag that carries most of the subject's spend over the episode."""

from __future__ import annotations

from datetime import date

from sqlite_utils import Database

from finops_bot.digest.rules import DigestRules
from finops_bot.store import reads
from finops_bot.store.anomalies import StoredAnomaly
from finops_bot.store.reads import Where


def owner_of(db: Database, routing: DigestRules, a: StoredAnomaly) -> str | None:
    if a.dim == "owner":
        return a.key
    if a.dim == "project" and routing.owner_of(a.key):
        return routing.owner_of(a.key)
    if a.dim not in ("project", "team", "account", "service"):
        return None
    start = date.fromisoformat(a.start)
    end = max(date.fromisoformat(a.last_day), start)
    rows = reads.grouped(db, Where.of({a.dim: [a.key]}), "owner", start, end, a.measure)
    owners = [value for value, _, total in rows if value and total > 0]
    return owners[0] if owners else None
