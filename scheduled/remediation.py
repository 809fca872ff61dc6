"""The remediation jobs in `serve`: every 2 minutes the idle sweep (new proposals: their
owner gets the card in a DM at once) and the expiry of proposals nobody clicked (their
cards lose their buttons); at start, executions a previous process left unfinished are
read back from the cloud. Each job takes ``now`` and its deps."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from finops_bot.store import connect
from finops_bot.store import proposals as store
from finops_bot.store.proposals import StoredProposal

log = logging.getLogger("finops_bot.remediation")
Post = Callable[
    [str, str, list], tuple[str, str]
]  # (channel or user, text, blocks) → (channel, ts)
Update = Callable[[str, str, str, list], None]  # (channel, ts, text, blocks)


def recipients(p: StoredProposal, approvers: frozenset[str], user_of: Callable) -> list[str]:
    """Who gets a new proposal's card: its owner (the owner tag's email or user id), else
    the approvers named by user id or email; a Spot proposal: the approvers first."""
    owner = (p.owner or "").strip()
    if owner.startswith("U") and "@" not in owner:  # "Uma@acme.ai" is an email
        mine = [owner]
    else:
        mine = [u for u in [user_of(owner) if "@" in owner else None] if u]
    out = [a for a in sorted(approvers) if a.startswith("U")]
    out += [u for a in sorted(approvers) if "@" in a for u in [user_of(a)] if u]
    # a switch to Spot needs an approver: its card goes to them first
    return (out + mine) if p.action == "spot" and out else (mine or out)


def sweep_and_post(service, now: datetime, post: Post, user_of: Callable) -> int:
    """The sweep, then each new proposal's card in its owner's DM → proposals made."""
    result = service.sweep(now)
    for skipped in result.skipped:
        log.info("sweep: %s", skipped)
    for p in result.proposed:
        deliver(service, p, now, post, user_of)
    return len(result.proposed)


def deliver(service, p: StoredProposal, now: datetime, post: Post, user_of: Callable) -> None:
    db = connect(service.db_path)
    try:
        people = recipients(p, service.rules.approvers_for(p.project), user_of)
        if not people:
            log.warning(
                "proposal %s for %s: nobody to send it to (owner %s)", p.id, p.resource_id, p.owner
            )
        for user in people[:1]:  # one live card per proposal: the owner's (or first approver's)
            blocks, text = service.card(db, p, now)
            try:
                channel, ts = post(user, text, blocks)
            except Exception as exc:  # a Slack failure must not stop the sweep
                log.warning("proposal %s: the DM to %s failed: %s", p.id, user, exc)
                continue
            store.place_card(db, p.id, channel, ts)
    finally:
        db.close()


def redraw(service, proposals: list[StoredProposal], now: datetime, update: Update) -> None:
    """Redraw stored cards (expired, recovered): their buttons follow the new state."""
    db = connect(service.db_path)
    try:
        for p in proposals:
            if not (p.card_channel and p.card_ts):
                continue
            blocks, text = service.card(db, p, now)
            try:
                update(p.card_channel, p.card_ts, text, blocks)
            except Exception as exc:
                log.warning("proposal %s: the card update failed: %s", p.id, exc)
    finally:
        db.close()


def tick(service, now: datetime, post: Post, update: Update, user_of: Callable) -> None:
    redraw(service, service.housekeeping(now), now, update)
    sweep_and_post(service, now, post, user_of)


def register(
    scheduler, service, clock: Callable[[], datetime], post: Post, update: Update, user_of: Callable
) -> None:
    """Recover at once, then tick every 2 minutes (first run now)."""
    now = clock()
    redraw(service, service.recover(now), now, update)
    scheduler.add_job(
        lambda: tick(service, clock(), post, update, user_of),
        "interval",
        minutes=2,
        next_run_time=now,
        id="remediation",
        max_instances=1,
        coalesce=True,
    )
