"""Posting the digests at their local time. A job every minute posts each digest whose
local time has passed today and that the ledger has no post for (store.ledger): so a
02:30 digest on a spring-forward day posts once at 03:00, on a fall-back day once, a
missed run or a restart posts at the next minute, and two processes never both post (the
claim is a write transaction before ``chat.postMessage``). ``now`` comes from bot/'s clock;
``send(channel, text, blocks) → ts`` is the Slack side, injected."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler

from finops_bot.access import AccessPolicy, channel_scope
from finops_bot.digest.budget_section import add_budgets
from finops_bot.digest.daily import compose_daily, compose_weekly
from finops_bot.digest.idle import compose_idle
from finops_bot.digest.owners import owner_of
from finops_bot.digest.rules import Digest, DigestRules
from finops_bot.forecast.budget_rules import BudgetRules
from finops_bot.gpu.burn import live_estimate
from finops_bot.gpu.prices import PriceBook
from finops_bot.questions import Engine
from finops_bot.render.blocks import escape
from finops_bot.render.digest import anomaly_line, digest_blocks, digest_text
from finops_bot.render.idle_digest import idle_blocks, idle_text, node_line
from finops_bot.store import budget_ledger, connect, ledger

log = logging.getLogger("finops_bot.digests")
Send = Callable[[str, str, list], str]
Upload = Callable[[bytes, str, str, str], str | None]  # (png, filename, title, alt) → file id


class NotInChannel(Exception):
    """The bot is not a member of the channel (Slack's not_in_channel)."""


def due(digests: tuple[Digest, ...], now: datetime) -> list[tuple[Digest, str]]:
    """(digest, its local date) for each digest whose local time has passed today (a
    weekly digest: on Mondays)."""
    out = []
    for d in digests:
        local = now.astimezone(d.zone)
        if d.kind == "weekly" and local.weekday() != 0:
            continue
        if local.time().replace(second=0, microsecond=0) >= d.at:
            out.append((d, local.date().isoformat()))
    return out


def post(
    db_path: Path,
    d: Digest,
    local_date: str,
    now: datetime,
    send: Send,
    *,
    access: AccessPolicy,
    measure: str,
    force: bool = False,
    upload: Upload | None = None,
    owners: Owners | None = None,
    budgets: Budgeting | None = None,
) -> str | None:
    """Claim, compose, send, record: the message ts, or None (posted already, or failed:
    recorded, logged). ``owners``: DM each owner their own items, once a day;
    ``budgets``: the budgets a daily or weekly digest shows."""
    db = connect(db_path)
    try:
        claim = ledger.claim(db, d.name, d.channel, local_date, now, force=force)
        if claim is None:
            return None
        scope = d.scope.meet(channel_scope(access, d.channel))
        if d.kind == "idle":
            idle = compose_idle(db, scope, d.name, now)
            items = {o: [node_line(n, idle) for n in nodes] for o, nodes in idle.owners.items()}
            text, blocks, image = idle_text(idle), idle_blocks(idle), None
        else:
            view = Engine(db, measure).view(scope)
            day = datetime.fromisoformat(local_date).date()
            compose = compose_weekly if d.kind == "weekly" else compose_daily
            composed = compose(db, view, d.name, day, now, measure)
            if budgets is not None:
                budgets.add(composed, db, view, day, now, measure)
            items = _anomaly_items(db, composed, owners)
            text, blocks = digest_text(composed), digest_blocks(composed)
            image = _chart(composed, upload)
        if owners is not None:
            unknown = sorted(o for o in items if o != "(no owner)" and not owners.user_of(o))
            if unknown:  # named, not dropped
                line = f"Owners Slack does not know (not sent a DM): {', '.join(unknown)}"
                text += f"\n\n{line}"
                blocks = [*blocks, {"type": "context", "elements": [
                    {"type": "mrkdwn", "text": escape(line)[:2900]}]}]  # fmt: skip
        try:
            if image is not None:
                try:
                    ts = send(d.channel, text, [blocks[0], image, *blocks[1:]])
                except NotInChannel:
                    raise
                except Exception:  # noqa: BLE001 - Slack refused the image: go without it
                    log.warning("digest %s: the chart was refused; posting without it", d.name)
                    ts = send(d.channel, text, blocks)
            else:
                ts = send(d.channel, text, blocks)
        except NotInChannel as exc:
            ledger.failed(db, claim, str(exc))
            log.error("digest %s: %s", d.name, exc)
            return None
        except Exception as exc:  # noqa: BLE001 - Slack down: recorded, retried once
            ledger.failed(db, claim, f"{type(exc).__name__}: {exc}")
            log.exception("digest %s to %s failed", d.name, d.channel)
            return None
        ledger.posted(db, claim, ts, now)
        log.info("digest %s posted to %s (%s)", d.name, d.channel, ts)
        if d.kind != "idle" and composed.uncrossed:
            budget_ledger.noted(db, composed.uncrossed, now)
        if owners is not None:
            _dm_owners(db, d, local_date, now, send, owners, items)
        return ts
    finally:
        db.close()


@dataclass(frozen=True)
class Budgeting:
    """What a digest needs to show budgets: the rules, the fiscal year, the live estimate."""

    rules: BudgetRules
    fiscal_start: int = 1
    prices: PriceBook | None = None

    def add(self, composed, db, view, day, now: datetime, measure: str) -> None:
        def live(start, end, keep):
            return live_estimate(db, self.prices or PriceBook(), start, end, now, keep)

        add_budgets(composed, db, view, self.rules.budgets, day, now, measure,
                    self.fiscal_start, live)  # fmt: skip


def budgeting(deps, rules: BudgetRules | None = None) -> Budgeting:
    """The Budgeting of bot/'s Deps (settings and prices); ``rules``: instead of theirs."""
    s = deps.settings
    return Budgeting(rules or s.budgets, s.questions.fiscal_start, deps.prices)


@dataclass(frozen=True)
class Owners:
    """Who owns what (routing) and their Slack user ids (an email → an id, or None)."""

    routing: DigestRules
    user_of: Callable[[str], str | None]


def _anomaly_items(db, composed, owners: Owners | None) -> dict[str, list[str]]:
    if owners is None:
        return {}
    items: dict[str, list[str]] = {}
    for a in composed.anomalies:
        owner = owner_of(db, owners.routing, a) or "(no owner)"
        items.setdefault(owner, []).append(anomaly_line(a))
    return items


def _dm_owners(db, d: Digest, local_date: str, now: datetime, send, owners, items) -> None:
    """Each owner with items gets only theirs, at most once per digest a day, unless muted."""
    for owner, lines in items.items():
        user = owners.user_of(owner) if owner != "(no owner)" else None
        if not user or ledger.muted(db, user, now):
            continue
        claim = ledger.claim(db, f"{d.name}:dm", user, local_date, now)
        if claim is None:
            continue
        text = (
            f"Your items in the {d.name} digest ({local_date}):\n"
            + "\n".join(f"• {line}" for line in lines)
            + "\n(/finops mute digests 7d to pause these)"
        )
        try:
            ledger.posted(db, claim, send(user, text, [_section(text)]), now)
        except Exception as exc:  # noqa: BLE001 - the channel has it; a DM is a courtesy
            ledger.failed(db, claim, f"{type(exc).__name__}: {exc}")
            log.warning("digest %s DM to %s failed", d.name, user, exc_info=True)


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": escape(text)[:2900]}}


def _chart(composed, upload: Upload | None) -> dict | None:
    """The chart uploaded without a channel (never shared, never public), as an image
    block; None when there is no uploader, no chart, or the upload fails (logged)."""
    if upload is None:
        return None
    from finops_bot.render.blocks import image_block
    from finops_bot.render.digest_chart import chart_alt, chart_filename, chart_png

    try:
        png = chart_png(composed)
        if png is None:
            return None
        title, alt = f"{composed.name}: the last 30 days", chart_alt(composed)
        file_id = upload(png, chart_filename(composed), title, alt)
    except Exception:  # noqa: BLE001 - a digest is never lost to its chart
        log.warning("digest %s: the chart could not be made or uploaded", composed.name,
                    exc_info=True)  # fmt: skip
        return None
    return image_block(file_id, title, alt) if file_id else None


def post_due(
    db_path: Path, digests, now: datetime, send: Send, access, measure, upload=None,
    owners: Owners | None = None, budgets: Budgeting | None = None,
) -> list:  # fmt: skip
    """The job body: every digest due now that the ledger lets through."""
    posted = []
    for d, local_date in due(digests, now):
        try:
            ts = post(db_path, d, local_date, now, send, access=access, measure=measure,
                      upload=upload, owners=owners, budgets=budgets)  # fmt: skip
        except Exception:  # noqa: BLE001 - the next minute tries again
            log.exception("digest %s failed", d.name)
            continue
        if ts:
            posted.append((d.name, ts))
    return posted


def register(
    scheduler: BaseScheduler,
    db_path: Path,
    digests: tuple[Digest, ...],
    send: Send,
    access: AccessPolicy,
    measure: str,
    clock: Callable[[], datetime],
    upload: Upload | None = None,
    owners: Owners | None = None,
    budgets: Budgeting | None = None,
) -> str:
    job = scheduler.add_job(
        lambda: post_due(
            db_path, digests, clock(), send, access, measure, upload, owners, budgets
        ),  # fmt: skip
        "interval",
        minutes=1,
        id="digests",
        name="digests at their local time",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
        next_run_time=clock(),  # at start: every digest whose time has passed today
    )
    return job.id
