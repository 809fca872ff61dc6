"""Who a Slack user is, always keyed by the user id Slack signed, never by a name a client
typed: their email and whether they are a guest or another workspace's user (`users.info`,
scopes users:read and users:read.email), the members of the user groups the access policy
names (`usergroups.users.list`, scope usergroups:read), the workspace the bot is installed
in (`auth.test`), and a user id from an email (`users.lookupByEmail`). Each is cached an
hour; the `[people]` table in the config is asked first for emails.

A lookup that fails is unknown (None) for a minute, and access decisions fail closed
(finops_bot.access): an unknown user gets only the grants that name them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from finops_bot.access import Identity

log = logging.getLogger("finops_bot.people")
TTL_SECONDS = 3600.0
FAILED_TTL_SECONDS = 60.0  # a failed lookup is tried again sooner


@dataclass(frozen=True)
class User:
    """What users.info says about one user."""

    email: str | None
    guest: bool  # is_restricted or is_ultra_restricted
    team_id: str | None
    stranger: bool = False  # is_stranger: a user of another workspace, seen in a channel


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
        self._cache: dict[tuple[str, str], tuple[object, float]] = {}
        self._lock = threading.Lock()

    def email_of(self, user_id: str) -> str | None:
        known = next((e for e, u in self.table.items() if u == user_id), None)
        if known or self.client_factory is None:
            return known
        user = self.user(user_id)
        return user.email if user else None

    def user_of(self, email: str) -> str | None:
        email = email.lower()
        if email in self.table or self.client_factory is None:
            return self.table.get(email)
        return self._cached("email", email, self._lookup_user)

    def user(self, user_id: str) -> User | None:
        """users.info's facts about a user; None when Slack could not say."""
        if self.client_factory is None:
            return None
        return self._cached("user", user_id, self._lookup_info)

    def members(self, group_id: str) -> frozenset[str] | None:
        """The user ids in a user group; None when Slack could not say."""
        if self.client_factory is None:
            return None
        return self._cached("group", group_id, self._lookup_members)

    def installed_team(self) -> str | None:
        """The workspace (team id) the bot token belongs to."""
        if self.client_factory is None:
            return None
        return self._cached("team", "", self._lookup_team)

    def identity(self, user_id: str, groups: Iterable[str] = ()) -> Identity:
        """Who the signed user is for the access policy: the policy's ``groups`` they are
        in, and whether they are a guest or external. Unknown (no Slack API, a failed
        lookup) counts as external: they get only grants that name them."""
        user, team = self.user(user_id), self.installed_team()
        if user is None or team is None:
            return Identity(user_id, external=True)
        mine = frozenset(g for g in groups if user_id in (self.members(g) or ()))
        external = user.stranger or user.team_id != team
        return Identity(user_id, mine, guest=user.guest, external=external)

    def _cached(self, kind: str, key: str, lookup: Callable[[str], object]):
        now = self.clock()
        with self._lock:
            hit = self._cache.get((kind, key))
            if hit and now - hit[1] < (TTL_SECONDS if hit[0] is not None else FAILED_TTL_SECONDS):
                return hit[0]
        value = lookup(key)
        with self._lock:
            self._cache[(kind, key)] = (value, now)
        return value

    def _lookup_info(self, user_id: str) -> User | None:
        try:
            user = self.client_factory().users_info(user=user_id)["user"]
        except Exception as exc:  # noqa: BLE001 - Slack unreachable or no scope: unknown
            log.warning("users.info %s failed: %s", user_id, exc)
            return None
        return User(
            email=(user.get("profile") or {}).get("email"),
            guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
            team_id=user.get("team_id"),
            stranger=bool(user.get("is_stranger")),
        )

    def _lookup_members(self, group_id: str) -> frozenset[str] | None:
        try:
            response = self.client_factory().usergroups_users_list(usergroup=group_id)
            return frozenset(response["users"] or ())
        except Exception as exc:  # noqa: BLE001 - no scope, no such group: no members known
            log.warning("usergroups.users.list %s failed: %s", group_id, exc)
            return None

    def _lookup_team(self, _: str) -> str | None:
        try:
            return self.client_factory().auth_test()["team_id"]
        except Exception as exc:  # noqa: BLE001 - Slack unreachable: not known
            log.warning("auth.test failed: %s", exc)
            return None

    def _lookup_user(self, email: str) -> str | None:
        try:
            return self.client_factory().users_lookupByEmail(email=email)["user"]["id"]
        except Exception as exc:  # noqa: BLE001 - not found, no scope: no user
            log.info("users.lookupByEmail %s: %s", email, exc)
            return None
