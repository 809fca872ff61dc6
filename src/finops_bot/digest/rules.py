"""``[[digests]]``, ``[projects."name"]`` (owner routing) and ``[alerts]``, validated once;
a bad key or value is named in one line. A digest's scope uses the access scope keys
(finops_bot.access): none = everything."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from finops_bot.access import SCOPE_KEYS, Grant, Scope, scope_terms
from finops_bot.errors import ConfigError
from finops_bot.tables import check_table

KINDS = ("daily", "idle", "weekly")
NOT_BUILT: tuple[str, ...] = ()
DIGEST_KEYS = {"name", "kind", "channel", "at", "timezone", *SCOPE_KEYS}
ALERT_KEYS = {"anomaly_over", "idle_gpu_dollars_over", "channel"}
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_AT = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True)
class Digest:
    name: str
    kind: str
    channel: str
    at: time
    timezone: str
    scope: Scope  # the digest's own scope (met with the channel's grant when posted)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Alerts:
    anomaly_over: float | None = None
    idle_gpu_dollars_over: float | None = None
    channel: str | None = None


@dataclass(frozen=True)
class DigestRules:
    digests: tuple[Digest, ...] = ()
    owners: tuple[tuple[str, str], ...] = ()  # (project, owner email)
    alerts: Alerts = Alerts()

    def owner_of(self, project: str) -> str | None:
        return next((o for p, o in self.owners if p == project), None)


def parse_digest_rules(digests: Any, projects: Any, alerts: Any) -> DigestRules:
    raw = digests if digests is not None else []
    if not isinstance(raw, list):
        raise ConfigError('[[digests]]: write each as [[digests]] with name = "…"')
    parsed = tuple(_digest(i, d) for i, d in enumerate(raw, 1))
    names = [d.name for d in parsed]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice:
        raise ConfigError(f"[[digests]] name = {twice!r} is used twice; give each its own name")
    return DigestRules(parsed, _owners(projects), _alerts(alerts))


def _digest(number: int, raw: Any) -> Digest:
    where = f"[[digests]] #{number}"
    check_table(raw, f"{where}:", DIGEST_KEYS, 'name = "nlp-daily", channel = "C0NLP"')
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f'{where}: name: give a short name such as "nlp-daily", not {name!r}')
    where = f"[[digests]] {name}"
    kind = raw.get("kind", "daily")
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind: give one of {', '.join(KINDS)}, not {kind!r}")
    if kind in NOT_BUILT:
        raise ConfigError(f'{where}: kind = "{kind}" is not built yet; use "daily" or "idle"')
    channel = raw.get("channel")
    if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
        raise ConfigError(
            f"{where}: channel = {channel!r}: give the channel's id (C0…, from its details "
            "in Slack), not its name"
        )
    at = raw.get("at", "09:00")
    match = _AT.fullmatch(at) if isinstance(at, str) else None
    if not match:
        raise ConfigError(f'{where}: at: give a local time as HH:MM, e.g. "09:00", not {at!r}')
    zone = raw.get("timezone", "UTC")
    try:
        if not isinstance(zone, str) or not zone.strip():
            raise ValueError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f'{where}: timezone: give an IANA zone such as "Europe/Madrid", not {zone!r}'
        ) from None
    terms = scope_terms(where, raw)
    scope = Scope((Grant.of(terms),), "this channel") if terms else Scope(None, "this channel")
    return Digest(name, kind, channel, time(int(match[1]), int(match[2])), zone, scope)


def _owners(raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigError('[projects] must be tables such as [projects."bert-training"]')
    out = []
    for project, table in raw.items():
        where = f'[projects."{project}"]'
        if not isinstance(table, dict) or set(table) - {"owner"}:
            raise ConfigError(f'{where}: give owner = "alice@acme.ai" (the only key)')
        owner = table.get("owner")
        if not isinstance(owner, str) or "@" not in owner:
            raise ConfigError(f'{where}: owner: give an email, e.g. "alice@acme.ai"')
        out.append((project, owner.strip().lower()))
    return tuple(out)


def _alerts(raw: Any) -> Alerts:
    if raw is None:
        return Alerts()
    check_table(raw, "[alerts]", ALERT_KEYS, "anomaly_over = 1000")
    numbers = {}
    for key in ("anomaly_over", "idle_gpu_dollars_over"):
        value = raw.get(key)
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or value < 0
        ):
            raise ConfigError(f"[alerts] {key}: give an amount ≥ 0, not {value!r}")
        numbers[key] = float(value) if value is not None else None
    channel = raw.get("channel")
    if channel is not None and (not isinstance(channel, str) or not _CHANNEL.fullmatch(channel)):
        raise ConfigError(f"[alerts] channel = {channel!r}: give the channel's id (C0…)")
    if channel is None and any(v is not None for v in numbers.values()):
        raise ConfigError('[alerts] channel: say where urgent alerts go, e.g. channel = "C0OPS"')
    return Alerts(numbers["anomaly_over"], numbers["idle_gpu_dollars_over"], channel)
