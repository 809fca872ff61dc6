"""Who may see which costs: the one place that decides, from the signed Slack user id.

``[access]`` grants scopes to channels, user groups and users; a scope is a union of
grants, each a conjunction of scope keys (``projects``, ``teams``, ``owners``,
``providers``, ``accounts``; no key = everything). In the spirit of AWS Chatbot's channel
role intersected with a guardrail:

- a visible post (a mention's reply, Share, a digest) shows the channel's grants
  intersected with the asker's;
- an ephemeral answer shows the asker's grants: their own, their user groups', and the
  channel's they ask in;
- a DM shows the user's own grants (their own and their user groups');
- the operator (the CLI) and, outside visible posts, admins see everything;
- guests and users of another workspace get only grants that name them (``user =``) and
  are never admins.

``mode = "open"`` (the default) lets everyone see everything, as before this table
existed. The scope keys are the one grammar later tables (digests, budgets, remediation)
reuse; admins are the one set of roles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from finops_bot.errors import ConfigError
from finops_bot.providers import cloud_of, fold
from finops_bot.tables import check_table, key_name

SCOPE_KEYS = {
    "projects": "project",
    "teams": "team",
    "owners": "owner",
    "providers": "provider",
    "accounts": "account",
}
SCOPE_DIMS = frozenset(SCOPE_KEYS.values())
MODES = ("open", "scoped")
SURFACES = ("visible", "ephemeral", "dm", "operator")
ACCESS_KEYS = {"mode", "admins", "approvers", "contact", "grants"}
_WHO = {"channel": re.compile(r"[CGD][A-Z0-9]{2,}"), "usergroup": re.compile(r"S[A-Z0-9]{2,}")}
_WHO["user"] = re.compile(r"[UW][A-Z0-9]{2,}")
_ADMIN = re.compile(r"[UWS][A-Z0-9]{2,}")


@dataclass(frozen=True)
class Grant:
    """One conjunction: each term's dimension must have one of its values; no terms:
    everything. Values are as configured; matching folds case and spelling."""

    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, filters: Mapping[str, Iterable[str]]) -> Grant:
        return cls(tuple(sorted((d, tuple(sorted(set(v)))) for d, v in filters.items())))

    def meet(self, other: Grant) -> Grant | None:
        """Both at once; None when nothing can satisfy both."""
        merged = {d: set(v) for d, v in self.terms}
        for dim, values in other.terms:
            if dim not in merged:
                merged[dim] = set(values)
                continue
            mine = {_norm(dim, v): v for v in merged[dim]}
            kept = {mine[_norm(dim, v)] for v in values if _norm(dim, v) in mine}
            if not kept:
                return None
            merged[dim] = kept
        return Grant.of(merged)

    def covers(self, other: Grant) -> bool:
        """Whether everything ``other`` admits, this admits too."""
        theirs = {d: {_norm(d, v) for v in vs} for d, vs in other.terms}
        return all(
            dim in theirs and theirs[dim] <= {_norm(dim, v) for v in values}
            for dim, values in self.terms
        )

    def admits(self, values: Mapping[str, str | None]) -> bool:
        """Whether a thing with these dimension values (a GPU node: project, owner,
        provider) lies inside; a dimension it lacks is never inside a term on it."""
        for dim, allowed in self.terms:
            value = values.get(dim)
            if not value or _norm(dim, value) not in {_norm(dim, v) for v in allowed}:
                return False
        return True

    def describe(self) -> str:
        if not self.terms:
            return "everything"
        return ", ".join(f"{dim} {' or '.join(values)}" for dim, values in self.terms)


@dataclass(frozen=True)
class Scope:
    """What one audience may see. ``grants`` None: everything; ``()``: nothing."""

    grants: tuple[Grant, ...] | None = None
    who: str = "you"  # named in refusals: "you" or "this channel"
    contact: str | None = None
    label: str | None = None  # how it is shown, when not by its grants (a visible post)

    @property
    def everything(self) -> bool:
        return self.grants is None or any(not g.terms for g in self.grants)

    @property
    def nothing(self) -> bool:
        return self.grants is not None and not self.grants

    def meet(self, other: Scope) -> Scope:
        if self.everything:
            return Scope(other.grants, self.who, self.contact)
        if other.everything:
            return self
        out = [m for a in self.grants for b in other.grants if (m := a.meet(b)) is not None]
        return Scope(_union(out).grants, self.who, self.contact)

    def admits(self, values: Mapping[str, str | None]) -> bool:
        return self.everything or any(g.admits(values) for g in self.grants)

    def describe(self) -> str:
        if self.everything:
            return "everything"
        if self.nothing:
            return "nothing (no grant)"
        return "; or ".join(g.describe() for g in self.grants)

    def shown(self) -> str:
        """What answers and refusals call it: a visible post never names the asker's own
        grants, only the channel's."""
        return self.label or self.describe()

    def refusal(self, asked: str, reason: str | None = None, more: str = "") -> str:
        """What a person is told when a question lies outside the scope: what they asked,
        why, what is visible, and whom to ask."""
        where = "this channel may" if self.who == "this channel" else "you may"
        message = f"“{asked.strip()[:200]}” is outside what {where} see"
        message += f" ({reason})." if reason else "."
        if more:
            message += f" {more}"
        if not self.nothing:
            message += f" Visible here: {self.shown()}."
        ask = self.contact or "a finops-bot admin"
        return message + f" To see more, ask {ask}."


EVERYTHING = Scope()


@dataclass(frozen=True)
class Rule:
    """One ``[[access.grants]]`` entry: who (channel, usergroup or user) gets the grant."""

    kind: str  # channel | usergroup | user
    id: str
    grant: Grant


@dataclass(frozen=True)
class AccessPolicy:
    mode: str = "open"
    admins: frozenset[str] = frozenset()  # user or user-group ids
    contact: str | None = None
    rules: tuple[Rule, ...] = ()
    approvers: frozenset[str] = frozenset()  # user or user-group ids: may act, see scoped

    @property
    def open(self) -> bool:
        return self.mode == "open"

    def groups(self) -> frozenset[str]:
        """The user groups the policy names (whose members the bot must look up)."""
        named = {a for a in (*self.admins, *self.approvers) if a.startswith("S")}
        return frozenset(named | {r.id for r in self.rules if r.kind == "usergroup"})

    def _grants(self, kind: str, ids: Iterable[str]) -> list[Grant]:
        wanted = set(ids)
        return [r.grant for r in self.rules if r.kind == kind and r.id in wanted]


@dataclass(frozen=True)
class Identity:
    """Who a Slack user is, as the bot resolved it from the signed user id."""

    user_id: str
    groups: frozenset[str] = frozenset()  # the policy's user groups they belong to
    guest: bool = False  # is_restricted / is_ultra_restricted
    external: bool = False  # another workspace's user (or not known to be ours)

    @property
    def outsider(self) -> bool:
        return self.guest or self.external


@dataclass(frozen=True)
class Audience:
    """Who will see the answer: a visible post in a channel, one person (ephemeral or in a
    DM), or the operator on the command line."""

    surface: str = "operator"
    channel_id: str | None = None

    def __post_init__(self) -> None:
        if self.surface not in SURFACES:
            raise ValueError(f"unknown surface {self.surface!r}")


OPERATOR = Audience("operator")


def is_admin(policy: AccessPolicy, who: Identity | None) -> bool:
    """Admins see everything (outside visible posts) and approve anything. Open mode has
    no admins beyond the operator: everyone sees everything."""
    if who is None or who.outsider:
        return False
    return who.user_id in policy.admins or bool(who.groups & policy.admins)


def may_act(policy: AccessPolicy, who: Identity | None, owner_email: str | None,
            their_email: str | None) -> bool:  # fmt: skip
    """Whether ``who`` may decide about something (an anomaly's status, later an action):
    its owner (by email), an approver or an admin; never a guest or an outsider unless
    they own it. Open mode lets anyone in the workspace decide, as before."""
    if who is None:
        return False
    if owner_email and their_email and owner_email.strip().lower() == their_email.strip().lower():
        return True
    if who.outsider:
        return False
    if policy.open or is_admin(policy, who):
        return True
    return who.user_id in policy.approvers or bool(who.groups & policy.approvers)


def _named(ids: frozenset[str], who: Identity, email: str | None) -> bool:
    return (who.user_id in ids or bool(who.groups & ids)
            or bool(email and email.strip().lower() in ids))  # fmt: skip


def may_remediate(policy: AccessPolicy, who: Identity | None, their_email: str | None,
                  owner: str | None, approvers: frozenset[str], require_approver: bool,
                  values: Mapping[str, str | None]) -> tuple[str | None, str]:  # fmt: skip
    """Who may act on a cloud resource, and as what: ``("owner" | "approver" | "admin",
    "")`` or ``(None, why not)``. ``owner`` is the resource's owner tag read from the cloud at
    click time (an email or a Slack user id), never an agent label or a billing tag.
    Owners act on their own resources unless the project requires an approver; approvers
    (these ids, groups or emails, and [access] approvers) and admins act on any resource
    their scope admits (``values``: project, owner, provider, account). Open mode does not
    widen this: a destructive action is never for everyone."""
    if who is None:
        return None, "your Slack identity could not be checked"
    tag = (owner or "").strip().lower()
    # another workspace's admins set their users' emails: an outsider owns only by user id
    mine = bool(tag) and (tag == who.user_id.lower() or (
        not who.external and tag == (their_email or "").strip().lower()))  # fmt: skip
    if mine and not require_approver:
        return "owner", ""
    if not who.outsider:
        role = "admin" if is_admin(policy, who) else None
        if role is None and _named(approvers | policy.approvers, who, their_email):
            role = "approver"
        if role:
            scope = scope_for(policy, who, Audience("dm"))
            if scope.admits(values) or role == "admin" or policy.open:
                return role, ""
            return None, f"the resource is outside what you may see ({scope.describe()})"
    if mine:
        return None, (
            "this needs an approver (a switch to Spot, or a project that requires one); "
            "your own click is not enough"
        )
    return None, "only the resource's owner (its owner tag in the cloud) or an approver may act"


def scope_for(policy: AccessPolicy, who: Identity | None, audience: Audience) -> Scope:
    """The scope an answer for ``audience``, asked by ``who``, may show."""
    contact = policy.contact
    if policy.open or audience.surface == "operator":
        return Scope(None, contact=contact)
    if who is None:
        return Scope((), contact=contact)
    own = policy._grants("user", [who.user_id])
    if not who.outsider:
        own += policy._grants("usergroup", who.groups)
    channel = policy._grants("channel", [audience.channel_id] if audience.channel_id else [])
    if audience.surface == "visible":
        asker = EVERYTHING if is_admin(policy, who) else _union([*own, *_member(who, channel)])
        room = Scope(_union(channel).grants, "this channel", contact)
        met = room.meet(asker)
        if met.grants != room.grants and not met.nothing:  # narrowed by the asker's grants
            return replace(met, label=f"{room.describe()}, as far as the asker may see")
        return met
    if is_admin(policy, who):
        return Scope(None, contact=contact)
    grants = own + (_member(who, channel) if audience.surface == "ephemeral" else [])
    return Scope(_union(grants).grants, "you", contact)


def channel_scope(policy: AccessPolicy, channel_id: str) -> Scope:
    """What a visible post in a channel may show at most (an admin's post there): the
    operator's preview of a channel's view (``ask --channel``)."""
    if policy.open:
        return Scope(None, "this channel", policy.contact)
    grants = _union(policy._grants("channel", [channel_id])).grants
    return Scope(grants, "this channel", policy.contact)


def scope_from_pairs(pairs: Iterable[str], contact: str | None = None) -> Scope:
    """``["teams=nlp,vision", "providers=aws"]`` → one grant of those keys (``ask --scope``);
    a malformed pair raises ValueError naming it."""
    terms: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        names = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or key.strip() not in SCOPE_KEYS or not names:
            raise ValueError(
                f"--scope {pair!r}: give KEY=NAME[,NAME…] with KEY one of "
                f"{', '.join(SCOPE_KEYS)}, e.g. --scope teams=nlp"
            )
        terms.setdefault(SCOPE_KEYS[key.strip()], []).extend(names)
    return Scope((Grant.of(terms),), "you", contact)


def _member(who: Identity, channel: list[Grant]) -> list[Grant]:
    """A channel's grants reach its full members; guests and outsiders get only theirs."""
    return [] if who.outsider else channel


def _union(grants: list[Grant]) -> Scope:
    """Any of them; grants of one term on one dimension are one grant ("team nlp or
    vision"), and a grant another one covers adds nothing and is left out."""
    single: dict[str, set[str]] = {}
    for g in grants:
        if len(g.terms) == 1:
            single.setdefault(g.terms[0][0], set()).update(g.terms[0][1])
    grants = [g for g in grants if len(g.terms) != 1] + [
        Grant.of({dim: values}) for dim, values in single.items()
    ]
    unique = sorted(set(grants), key=lambda g: (len(g.terms), g.terms))
    kept: list[Grant] = []
    for grant in unique:
        if not any(k.covers(grant) for k in kept):
            kept.append(grant)
    return Scope(tuple(sorted(kept, key=lambda g: g.terms)))


def _norm(dim: str, value: str) -> str:
    if dim == "provider":
        return cloud_of(value)
    return value.strip().lower() if dim == "owner" else fold(value)  # emails: not folded


def parse_access(raw: Any) -> AccessPolicy:
    """``[access]`` → the policy, validated once; a bad key or value is named in one line."""
    if raw is None:
        return AccessPolicy()
    check_table(raw, "[access]", ACCESS_KEYS, 'mode = "scoped"')
    mode = raw.get("mode", "open")
    if mode not in MODES:
        raise ConfigError(f'[access] mode: give "open" or "scoped", not {mode!r}')
    admins, approvers = raw.get("admins", []), raw.get("approvers", [])
    for key, ids in (("admins", admins), ("approvers", approvers)):
        if not isinstance(ids, list) or not all(
            isinstance(a, str) and _ADMIN.fullmatch(a) for a in ids
        ):
            raise ConfigError(
                f'[access] {key}: give Slack user or user-group ids, e.g. ["U0ADMIN", "S0FINOPS"]'
            )
    contact = raw.get("contact")
    if contact is not None and (not isinstance(contact, str) or not contact.strip()):
        raise ConfigError('[access] contact: give whom to ask, e.g. "#finops-help"')
    grants = raw.get("grants", [])
    if not isinstance(grants, list):
        raise ConfigError('[access] grants: write each as [[access.grants]] with channel = "C…"')
    rules = tuple(_rule(i, g) for i, g in enumerate(grants, 1))
    return AccessPolicy(
        mode, frozenset(admins), contact.strip() if contact else None, rules, frozenset(approvers)
    )


def _rule(number: int, raw: Any) -> Rule:
    where = f"[[access.grants]] #{number}"
    if not isinstance(raw, dict):
        raise ConfigError(f'{where}: must be a table with channel, usergroup or user = "…"')
    who = [k for k in _WHO if k in raw]
    if len(who) != 1:
        raise ConfigError(
            f'{where}: give exactly one of channel = "C…", usergroup = "S…" or user = "U…"'
        )
    kind = who[0]
    ident = raw[kind]
    if not isinstance(ident, str) or not _WHO[kind].fullmatch(ident):
        raise ConfigError(f"{where}: {kind} = {ident!r} is not a Slack {kind} id")
    unknown = set(raw) - {kind} - set(SCOPE_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: {key_name(sorted(unknown)[0])}: unknown key; scope keys are "
            f"{', '.join(SCOPE_KEYS)} (none = everything)"
        )
    return Rule(kind, ident, Grant.of(scope_terms(where, raw)))


def scope_terms(where: str, raw: dict) -> dict[str, list[str]]:
    """The scope keys of a table (a grant, a digest) → dimension → names; the one grammar
    every table that scopes something shares. A bad value is named in one line."""
    terms: dict[str, list[str]] = {}
    for key, dim in SCOPE_KEYS.items():
        if key not in raw:
            continue
        values = raw[key]
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and v.strip() for v in values)
        ):
            raise ConfigError(f'{where}: {key}: give a list of names, e.g. {key} = ["…"]')
        terms[dim] = [v.strip() for v in values]
    return terms
