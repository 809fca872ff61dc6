"""An access scope (finops_bot.access) as the store reads it: each grant's names resolved
to the values the cache holds (exact spellings only: never a partial or fuzzy match), and
the index of the names inside it, so did-you-mean, examples and name lists never show a
name from outside."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlite_utils import Database

from finops_bot.access import EVERYTHING, SCOPE_DIMS, Scope
from finops_bot.providers import fold
from finops_bot.questions import suggest
from finops_bot.questions.names import NameIndex
from finops_bot.store import reads
from finops_bot.store.reads import Where


class Refused(Exception):
    """A question outside the access scope (the message says why, in a few words)."""


@dataclass(frozen=True)
class View:
    """What one answer may read."""

    scope: Scope
    within: tuple[Where, ...] | None  # the scope as store filters; None: everything
    names: NameIndex  # the names inside the scope
    unknown: tuple[str, ...] = ()  # the scope's names the cache does not hold ("team x")
    full: NameIndex | None = None  # the whole cache's names (every spelling of a subject)

    @property
    def limited(self) -> bool:
        return self.within is not None

    @property
    def all(self) -> Where:
        return Where((), self.within)

    def describe(self) -> str | None:
        return self.scope.shown() if self.limited else None

    def subject(self, db: Database, dim: str, where: Where) -> Where:
        """A subject as this view reads it. One on a scope dimension (a project, a team, an
        owner, a provider, an account) with charges outside the scope is refused, never
        shown as a partial number; any other (a service, a region, a GPU model) is read
        within the scope."""
        if not self.limited:
            return where
        if dim in SCOPE_DIMS and reads.outside(db, self._every_spelling(where), self.within):
            raise Refused("it also has spend outside that scope")
        return where.inside(self.within)

    def sees(self, db: Database, dim: str, key: str) -> bool:
        """Whether the view may see something about one subject (an anomaly): everything
        when not limited; under a scope, a subject on a scope key wholly inside it (as a
        question about it would be), never one on another dimension."""
        if not self.limited:
            return True
        if dim not in SCOPE_DIMS:
            return False
        try:
            self.subject(db, dim, Where.of({dim: [key]}))
        except Refused:
            return False
        return True

    def _every_spelling(self, where: Where) -> Where:
        """The subject with the spellings the scope does not see too ("Bert_Training" on
        another team is the same project): what "partly outside" is checked on."""
        if self.full is None:
            return where
        terms = {
            dim: {k for key in keys for k in self.full.exactly(dim, key)} | set(keys)
            for dim, keys in where.terms
        }
        return Where.of(terms)


def view(
    db: Database,
    scope: Scope | None,
    names: NameIndex,
    aliases: Mapping[str, tuple[str, str]] | None = None,
) -> View:
    """``names``: the whole cache's index (the scope's names are resolved against it, and
    through the team's ``[aliases]`` nicknames of the same dimension)."""
    if scope is None or scope.everything:
        return View(scope or EVERYTHING, None, names)
    unknown: list[str] = []
    within = tuple(
        Where.of(
            {dim: _keys(names, dim, values, aliases or {}, unknown) for dim, values in g.terms}
        )
        for g in scope.grants
    )
    return View(scope, within, NameIndex(reads.names(db, within)), tuple(unknown), names)


def _keys(names: NameIndex, dim: str, values: Iterable[str], aliases, unknown) -> list[str]:
    """The stored spellings of each configured name; a name the cache does not hold yet
    stays as written (it matches its own spelling when data for it arrives)."""
    out: list[str] = []
    for value in values:
        alias = aliases.get(fold(value))
        if alias and alias[0] == dim:
            value = alias[1]
        found = names.exactly(dim, value)
        if not found and f"{dim} {value}" not in unknown:
            unknown.append(f"{dim} {value}")
        out += found or [value]
    return out


NEVER_SCOPED = ("untagged", "aws vs gcp")  # whole-company questions a scope refuses


def never(question: str) -> bool:
    """A suggestion a scoped audience would only be refused."""
    return any(word in question for word in NEVER_SCOPED)


def examples(v: View) -> list[str]:
    """The help examples: for a scope, only those it can answer, with its own names (none
    with a placeholder name the scope does not hold)."""
    if not v.limited:
        return suggest.examples(v.names)
    if v.scope.nothing:
        return []
    out = [q for q in suggest.examples(v.names, placeholders=False) if not never(q)]
    return out
