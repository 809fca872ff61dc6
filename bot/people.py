"""Who a Slack user is: their email from `users.info` (scope users:read.email), and a user
id from an email with `users.lookupByEmail`, each cached an hour. The `[people]` table in
the config is asked first. Always keyed by the user id Slack signed, never by a name a
client typed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger("finops_bot.people")
TTL_SECONDS = 3600.0


class People:
    def __init__(
        self,
        client_factory: Callable[[], object] | None,
        table: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        """``client_factory``: a Slack WebClient (None: no lookups, the table only);
        ``table``: [people], email → user id."""
        self.client_factory = client_factory
        self.table = {e.lower(): u for e, u in (table or {}).items()}
        self.clock = clock
        self._emails: dict[str, tuple[str | None, float]] = {}
        self._users: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def email_of(self, user_id: str) -> str | None:
        known = next((e for e, u in self.table.items() if u == user_id), None)
        if known or self.client_factory is None:
            return known
        return self._cached(self._emails, user_id, self._lookup_email)

    def user_of(self, email: str) -> str | None:
        email = email.lower()
        if email in self.table or self.client_factory is None:
            return self.table.get(email)
        return self._cached(self._users, email, self._lookup_user)

    def _cached(self, cache: dict, key: str, lookup: Callable[[str], str | None]):
        now = self.clock()
        with self._lock:
            hit = cache.get(key)
            if hit and now - hit[1] < TTL_SECONDS:
                return hit[0]
        value = lookup(key)
        with self._lock:
            cache[key] = (value, now)
        return value

    def _lookup_email(self, user_id: str) -> str | None:
        try:
            response = self.client_factory().users_info(user=user_id)
            return (response["user"].get("profile") or {}).get("email")
        except Exception as exc:  # noqa: BLE001 - Slack unreachable or no scope: no email
            log.warning("users.info %s failed: %s", user_id, exc)
            return None

    def _lookup_user(self, email: str) -> str | None:
        try:
            return self.client_factory().users_lookupByEmail(email=email)["user"]["id"]
        except Exception as exc:  # noqa: BLE001 - not found, no scope: no user
            log.info("users.lookupByEmail %s: %s", email, exc)
            return None
