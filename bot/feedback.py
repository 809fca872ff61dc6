"""Decisions on anomalies from Slack buttons: who may decide is decided server-side, from
the user id Slack signed (finops_bot.access.may_act: the subject's owner, approvers,
admins); the decision is stored with that id (store.anomalies, append-only history) and
feeds the detector. The same decision twice is recorded once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from bot.people import People
from finops_bot.access import AccessPolicy, Identity, may_act
from finops_bot.digest.owners import owner_of
from finops_bot.digest.rules import DigestRules
from finops_bot.store import anomalies as stored
from finops_bot.store import connect, ledger
from finops_bot.store.anomalies import StoredAnomaly

log = logging.getLogger("finops_bot.access")


class Feedback:
    def __init__(
        self,
        db_path: Path,
        access: AccessPolicy,
        people: People | None,
        routing: DigestRules,
        clock: Callable[[], datetime],
    ):
        self.db_path, self.access, self.people = db_path, access, people
        self.routing, self.clock = routing, clock

    def judge(self, user_id: str, anomaly_id: str, status: str) -> tuple[bool, str]:
        """(done, what to tell the person): stored, or why not."""
        db = connect(self.db_path)
        try:
            anomaly = stored.get(db, anomaly_id)
            if anomaly is None:
                return False, "That anomaly is no longer known (withdrawn or from another cache)."
            owner = self.owner_of(db, anomaly)
            email = self.people.email_of(user_id) if self.people else None
            who = (
                self.people.identity(user_id, self.access.groups())
                if self.people
                else Identity(user_id, external=True)
            )
            if not may_act(self.access, who, owner, email):
                log.info("refused: %s may not mark %s %s", user_id, anomaly_id, status)
                ask = self.access.contact or "an admin"
                return False, (
                    f"Only {anomaly.dim} {anomaly.key}'s owner"
                    f"{f' ({owner})' if owner else ''}, an approver or an admin may decide "
                    f"about this anomaly; ask {ask}. Nothing was changed."
                )
            stored.set_status(db, anomaly_id, status, user_id, self.clock())
            return True, status
        finally:
            db.close()

    def owner_of(self, db, a: StoredAnomaly) -> str | None:
        return owner_of(db, self.routing, a)

    def mute_digests(self, user_id: str, days: int) -> str:
        """`/finops mute digests 7d` (0 days: unmute), for the signed user only."""
        now = self.clock()
        db = connect(self.db_path)
        try:
            ledger.mute(db, user_id, now + timedelta(days=days), now)
        finally:
            db.close()
        if days <= 0:
            return "Your digest DMs are on again."
        until = (now + timedelta(days=days)).strftime("%Y-%m-%d %H:%M UTC")
        return f"Your digest DMs are muted until {until}. `/finops unmute digests` undoes it."
