"""Urgent alerts, checked every minute: an anomaly whose impact passes ``[alerts]
anomaly_over``, or a GPU node whose idle dollars (counted from when it went idle) pass
``idle_gpu_dollars_over``, is posted at once to ``[alerts] channel`` and DMed to its owner,
once per episode (the digest ledger, keyed by the anomaly id or the node and the time it
went idle, decides; two processes never both post). An owner who cannot be found in Slack
is named in the channel's alert. ``now`` from bot/'s clock; ``send`` and ``user_of`` (an
email → a Slack user id) injected."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler

from finops_bot.access import AccessPolicy, channel_scope
from finops_bot.digest.owners import owner_of
from finops_bot.digest.rules import Alerts, DigestRules
from finops_bot.gpu.fleet import FleetRules, fleet
from finops_bot.gpu.prices import PriceBook
from finops_bot.money import format_money
from finops_bot.questions.gpu_answers import node_filter
from finops_bot.render.anomalies import KIND_WORDS
from finops_bot.render.blocks import escape
from finops_bot.store import anomalies as stored
from finops_bot.store import connect, ledger

log = logging.getLogger("finops_bot.alerts")
WASTE = ("idle", "idle, memory held", "partly idle", "stalled")


def _anomaly_alerts(db, alerts: Alerts, routing) -> list[tuple[str, str, str | None]]:
    """(episode key, text, owner email) of open anomalies over the threshold."""
    out = []
    for a in stored.stored(db, statuses=("open",)):
        if a.part_of is None and a.kind != "purchase" and a.impact >= alerts.anomaly_over:
            cause = next((c for c in a.root_cause if c["dimension"] == "service"), None)
            why = f", mostly {cause['value']}" if cause else ""
            text = (
                f":rotating_light: Cost anomaly: {a.dim} {a.key}, "
                f"{KIND_WORDS.get(a.kind, a.kind)} since {a.start}: "
                f"{format_money(a.actual, a.currency)} against "
                f"{format_money(a.expected, a.currency)} expected "
                f"(+{format_money(a.impact, a.currency)}{why}) [{a.id}]"
            )
            out.append((f"anomaly:{a.id}", text, owner_of(db, routing, a), {a.dim: a.key}))
    return out


def _idle_alerts(db, alerts, now: datetime, prices, rules) -> list[tuple]:
    out = []
    for n in fleet(db, now, prices, rules):
        if n.state not in WASTE:
            continue
        dollars = n.idle_dollars(now.replace(tzinfo=None))
        if dollars is None or dollars < alerts.idle_gpu_dollars_over:
            continue
        text = (
            f":hourglass: Idle GPUs: {n.hostname} ({n.project or 'no project'}) is {n.state} "
            f"since {n.since:%H:%M} UTC: {format_money(dollars, 'USD')} so far, "
            f"{format_money(n.waste_hourly or 0.0, 'USD')}/h now"
        )
        values = {"project": n.project, "owner": n.owner, "provider": n.provider}
        out.append((f"idle:{n.node}:{n.since:%Y-%m-%dT%H:%M}", text, n.owner, values))
    return out


def check(
    db_path: Path,
    routing: DigestRules,
    now: datetime,
    send: Callable[[str, str, list], str],
    user_of: Callable[[str], str | None],
    prices: PriceBook | None = None,
    rules: FleetRules | None = None,
    access: AccessPolicy | None = None,
) -> list[str]:
    """The job body: post what crossed a threshold and was not posted yet, and what the
    alerts channel's access grant lets it see. → keys posted."""
    alerts = routing.alerts
    if not alerts.channel:
        return []
    scope = channel_scope(access, alerts.channel) if access is not None else None
    db = connect(db_path)
    posted = []
    try:
        found = []
        if alerts.anomaly_over is not None:
            found += [f for f in _anomaly_alerts(db, alerts, routing) if _visible(scope, f)]
        if alerts.idle_gpu_dollars_over is not None:
            keep = node_filter(db, scope)
            found += [f for f in _idle_alerts(db, alerts, now, prices, rules or FleetRules())
                      if keep is None or keep(f[3])]  # fmt: skip
        for key, text, owner, _ in found:
            claim = ledger.claim(db, "alert", alerts.channel, key, now)
            if claim is None:
                continue
            user = user_of(owner) if owner else None
            text = escape(text)
            line = text + (f" · owner <@{user}>" if user else (
                f" · owner {escape(owner)} (not found in Slack)" if owner else ""))  # fmt: skip
            try:
                ts = send(alerts.channel, line, [_section(line)])
            except Exception as exc:  # noqa: BLE001 - recorded; retried once by the ledger
                ledger.failed(db, claim, f"{type(exc).__name__}: {exc}")
                log.exception("alert %s to %s failed", key, alerts.channel)
                continue
            ledger.posted(db, claim, ts, now)
            posted.append(key)
            if user and ledger.claim(db, "alert-dm", user, key, now):
                try:
                    send(user, text, [_section(text)])  # a DM: the user id is its channel
                except Exception:  # noqa: BLE001 - the channel has it; a DM is a courtesy
                    log.warning("alert DM to %s failed", user, exc_info=True)
    finally:
        db.close()
    return posted


def _visible(scope, found) -> bool:
    """An anomaly alert in a scoped channel: its subject must lie inside the grant."""
    return scope is None or scope.everything or scope.admits(found[3])


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}


def register(scheduler: BaseScheduler, job: Callable[[], object]) -> str:
    return scheduler.add_job(
        job, "interval", minutes=1, id="urgent-alerts", name="urgent alerts",
        coalesce=True, max_instances=1, replace_existing=True,
    ).id  # fmt: skip
