"""Decisions on anomalies from Slack buttons: who may decide is decided server-side, from
the user id Slack signed (finops_bot.access.may_act: the subject's owner, approvers,
admins); the decision is stored with that id (store.anomalies, append-only history) and
feeds the detector. The same decision twice is recorded once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from bot.people import People
from finops_bot.access import AccessPolicy, Identity, may_act
from finops_bot.digest.rules import DigestRules
from finops_bot.store import anomalies as stored
from finops_bot.store import connect, reads
from finops_bot.store.anomalies import StoredAnomaly
from finops_bot.store.reads import Where

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
        """The subject's owner: the owner itself, [projects] routing, else the owner tag
        that carries most of the subject's spend over the episode."""
        if a.dim == "owner":
            return a.key
        if a.dim == "project" and self.routing.owner_of(a.key):
            return self.routing.owner_of(a.key)
        if a.dim not in ("project", "team", "account", "service"):
            return None
        start = date.fromisoformat(a.start)
        end = max(date.fromisoformat(a.last_day), start) + timedelta(days=0)
        rows = reads.grouped(db, Where.of({a.dim: [a.key]}), "owner", start, end, a.measure)
        owners = [value for value, _, total in rows if value and total > 0]
        return owners[0] if owners else None
