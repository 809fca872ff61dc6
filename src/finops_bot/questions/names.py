"""Match names as people type them to the values the cache holds.

``bert_training``, ``BERT Training`` and ``bert-training`` are one name (case, spaces,
``_`` and ``.`` fold to ``-``); values that fold alike are answered together. A provider
word ("aws", "google", "Azure") is that provider whatever its spelling in the data, and wins
over any partial match. A service alias ("ec2") covers every spelling of the service
(questions.aliases). A word equal to a FOCUS ServiceCategory ("storage") is that category.
Anything else that matches several things is a set of candidates, never one of them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from finops_bot.providers import cloud_of, fold, is_cloud_word
from finops_bot.questions.aliases import CATEGORY_WORDS, service_of, services_named

SEARCH_ORDER = (
    "project",
    "team",
    "owner",
    "service",
    "account",
    "provider",
    "region",
    "gpu",
    "instance",
)
NOT_SEARCHED = {"category", "pricing", "*"}  # asked for by their words only
PARTIAL_DIMS = ("service", "region", "account", "instance", "gpu")  # names people shorten
__all__ = ["Candidates", "Match", "NameIndex", "NoMatch", "canonical", "fold", "rank_key"]


def _person(folded_owner: str, name: str) -> bool:
    """An owner's email named by its local part or first name ("alice", "alice-smith")."""
    local = folded_owner.split("@", 1)[0]
    return "@" in folded_owner and len(name) >= 2 and name in (local, local.split("-")[0])


def canonical(keys: list[str] | tuple[str, ...]) -> str:
    """Of several spellings of one name, the one already in folded form, else the first."""
    ordered = sorted(set(keys))
    return next((k for k in ordered if fold(k) == k), ordered[0])


def rank_key(dim: str, value: str) -> str:
    """What values of ``dim`` are merged by in rankings: the cloud, the service, the folded
    name."""
    if dim == "provider":
        return cloud_of(value)
    if dim == "service":
        service = service_of(value)
        return fold(service.label) if service else fold(value)
    return fold(value)


@dataclass(frozen=True)
class Match:
    dim: str
    keys: tuple[str, ...]  # values as stored (one or more spellings)
    label: str  # what to call it in answers


@dataclass(frozen=True)
class Candidates:
    name: str
    matches: tuple[Match, ...]


@dataclass(frozen=True)
class NoMatch:
    dim: str | None
    name: str
    suggestions: tuple[str, ...]


class NameIndex:
    """All known values per dimension, loaded once per cache version."""

    def __init__(self, rows: list[tuple[str, str, str]]):
        self.by_dim: dict[str, dict[str, list[str]]] = {}
        self.labels: dict[tuple[str, str], str] = {}
        self.by_label: dict[str, dict[str, list[str]]] = {}
        for dim, key, label in rows:
            if not key:
                continue
            self.by_dim.setdefault(dim, {}).setdefault(fold(key), []).append(key)
            if label:
                self.by_label.setdefault(dim, {}).setdefault(fold(label), []).append(key)
                self.labels[(dim, key)] = label

    def search_order(self) -> list[str]:
        """The built-in dimensions, then the configured tag dimensions the cache holds."""
        extra = sorted(d for d in self.by_dim if d not in SEARCH_ORDER and d not in NOT_SEARCHED)
        return [*SEARCH_ORDER, *extra]

    def known(self, dim: str) -> bool:
        return bool(self.by_dim.get(dim))

    def values(self, dim: str) -> list[str]:
        return [canonical(keys) for keys in self.by_dim.get(dim, {}).values()]

    def label(self, dim: str, keys: tuple[str, ...] | list[str]) -> str:
        """'ml-prod (222233334444)' for an account; the canonical spelling otherwise."""
        key = canonical(keys)
        if dim == "service":
            service = service_of(key)
            return service.label if service else key
        shown = self.labels.get((dim, key))
        return f"{shown} ({key})" if shown else key

    def exactly(self, dim: str, name: str) -> list[str]:
        """The stored values that are exactly ``name``: its spellings, a provider's every
        spelling, an account by id or name. What an access scope's names cover."""
        folded, values = fold(name), self.by_dim.get(dim, {})
        if dim == "provider":
            cloud = cloud_of(name)
            return [k for f, ks in values.items() if cloud_of(f) == cloud for k in ks]
        keys = list(values.get(folded, []))
        if dim == "owner":  # an email: case aside, john.smith@ is not john_smith@
            keys = [k for k in keys if k.strip().lower() == name.strip().lower()]
        if dim == "account":
            keys += [k for k in self.by_label.get(dim, {}).get(folded, []) if k not in keys]
        return keys

    def _match(self, dim: str, keys: list[str]) -> Match:
        keys = sorted(set(keys))
        return Match(dim, tuple(keys), self.label(dim, keys))

    def _exact(self, dim: str, name: str) -> list[Match]:
        folded, values = fold(name), self.by_dim.get(dim, {})
        if dim == "provider":
            cloud = cloud_of(name)
            keys = [k for f, ks in values.items() if cloud_of(f) == cloud for k in ks]
            return [self._match(dim, keys)] if keys else []
        if dim == "service":
            out = []
            for service in services_named(name):
                spellings = {fold(s) for s in service.spellings}
                keys = [k for f, ks in values.items() if f in spellings for k in ks]
                if keys:
                    out.append(self._match(dim, keys))
            if out:
                return out
        if dim == "category" and folded in CATEGORY_WORDS:
            wanted = fold(CATEGORY_WORDS[folded])
            keys = values.get(wanted, [])
            return [self._match(dim, keys)] if keys else []
        hits = [self._match(dim, values[folded])] if folded in values else []
        if dim == "owner" and not hits:  # "alice" → alice@acme.ai, alice.smith@…
            hits = [self._match(dim, ks) for f, ks in values.items() if _person(f, folded)]
        if dim == "account":  # by name: one candidate per account, never added together
            named = self.by_label.get(dim, {}).get(folded, [])
            hits += [self._match(dim, [k]) for k in named if not hits or k not in hits[0].keys]
        return hits

    def _partial(self, dim: str, name: str) -> list[Match]:
        wanted = fold(name)
        if dim not in PARTIAL_DIMS or len(wanted) < 3:
            return []
        found: dict[str, list[str]] = {}
        for f, keys in self.by_dim.get(dim, {}).items():
            labels = [fold(self.labels.get((dim, k), "")) for k in keys]
            if wanted in f or any(wanted in label for label in labels if label):
                for k in keys:
                    found.setdefault(rank_key(dim, k), []).append(k)
        return [self._match(dim, keys) for keys in found.values()]

    def resolve(self, dim: str | None, name: str) -> Match | Candidates | NoMatch:
        """A name → the one thing it means, the candidates it could mean, or nothing."""
        if dim in (None, "provider") and is_cloud_word(name):
            hit = self._exact("provider", name)
            if hit:
                return hit[0]
        if dim is None and fold(name) in CATEGORY_WORDS:
            hit = self._exact("category", name)
            if hit:
                return hit[0]
        dims = [dim] if dim else self.search_order()
        for find in (self._exact, self._partial):
            hits = [m for d in dims for m in find(d, name)]
            if len(hits) == 1:
                return hits[0]
            if hits:
                return Candidates(name, tuple(hits[:8]))
        return NoMatch(dim, name, tuple(self.suggest(dims, name)))

    def suggest(self, dims: list[str], name: str, limit: int = 3) -> list[str]:
        wanted = fold(name)[:200]  # a long question stays cheap
        scored: list[tuple[float, str]] = []
        for d in dims:
            for f, keys in self.by_dim.get(d, {}).items():
                matcher = difflib.SequenceMatcher(None, wanted, f)
                if matcher.real_quick_ratio() < 0.55 or matcher.quick_ratio() < 0.55:
                    score = 0.0
                else:
                    score = matcher.ratio()
                if wanted and (wanted in f or f in wanted):
                    score = max(score, 0.75)
                if score >= 0.55:
                    scored.append((score, canonical(keys)))
        scored.sort(key=lambda x: (-x[0], x[1]))
        out: list[str] = []
        for _, key in scored:
            if key not in out:
                out.append(key)
        return out[:limit]
