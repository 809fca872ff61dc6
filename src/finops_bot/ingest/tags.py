"""Tags → allocation columns (project, team, owner), configured dimensions
(``[allocation] dimensions``: their values as canonical JSON) + the remaining tags.

Real exports spell keys every way: ``Project``, `` org``, ``user:project``. Keys are matched
trimmed and case-insensitively, with or without a provider prefix (the part before the last
``:``). A key spelled exactly as configured wins over a prefixed one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

ALLOCATION_COLUMNS = ("project", "team", "owner")


@dataclass(frozen=True)
class Allocation:
    project: str
    team: str
    owner: str
    rest: str  # remaining tags as canonical JSON ('' when none)
    readable: bool = True
    # the configured dimensions' values as canonical JSON, '' for none configured
    dims: str = ""


def parse_tags(text: str | None) -> dict[str, object] | None:
    """Parse a Tags cell: a JSON object, or Azure's brace-less ``"k": "v", ...``.

    Returns {} for empty cells and None when the text cannot be read as tags.
    """
    if text is None:
        return {}
    text = text.strip()
    if not text or text.upper() == "NULL":
        return {}
    candidates = [text] if text.startswith("{") else [text, "{" + text + "}"]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


class TagRules:
    """Which tag keys feed which allocation column or configured dimension: ``keys`` maps
    project, team, owner and each configured dimension to its tag keys."""

    def __init__(self, keys: Mapping[str, tuple[str, ...]]):
        self._exact: dict[str, tuple[str, int]] = {}
        for column, names in keys.items():
            for rank, name in enumerate(names):
                self._exact.setdefault(name.strip().lower(), (column, rank))
        self.dimensions = tuple(sorted(c for c in keys if c not in ALLOCATION_COLUMNS))
        empty = dict.fromkeys(self.dimensions, "")
        self._no_dims = json.dumps(empty, sort_keys=True) if self.dimensions else ""

    def _match(self, key: str) -> tuple[str, int] | None:
        norm = key.strip().lower()
        hit = self._exact.get(norm)
        if hit:
            return hit[0], hit[1] * 2
        if ":" in norm:
            hit = self._exact.get(norm.rsplit(":", 1)[1].strip())
            if hit:
                return hit[0], hit[1] * 2 + 1
        return None

    def allocate(self, text: str | None, allocated: str | None = None) -> Allocation:
        """Tags → allocation. ``allocated``: FOCUS 1.3 AllocatedTags, the split target's own
        tags; its allocation keys win over Tags', whose values stay in the rest."""
        tags = parse_tags(text)
        if tags is None:
            return Allocation(
                "", "", "", json.dumps({"_unparsed": text}), readable=False, dims=self._no_dims
            )
        split = parse_tags(allocated) if allocated else {}
        found, rest = self._sort(tags)
        if split:
            split_found, split_rest = self._sort(split)
            for column, hit in split_found.items():
                if column in found:
                    rest[f"origin:{found[column][1]}"] = found[column][2]
                found[column] = hit
            for key, value in split_rest.items():
                if key in rest and rest[key] != value:
                    rest[f"origin:{key}"] = rest[key]
                rest[key] = value
        values = {
            column: "" if value is None or value is True else str(value).strip()
            for column, (_, _, value) in found.items()
        }
        dims = ""
        if self.dimensions:
            dims = json.dumps(
                {d: values.get(d, "") for d in self.dimensions}, sort_keys=True, ensure_ascii=False
            )
        return Allocation(
            project=values.get("project", ""),
            team=values.get("team", ""),
            owner=values.get("owner", ""),
            rest=json.dumps(rest, sort_keys=True, ensure_ascii=False) if rest else "",
            dims=dims,
        )

    def _sort(self, tags: dict[str, object]) -> tuple[dict, dict]:
        """→ (allocation column → (rank, key, value), the remaining tags)."""
        found: dict[str, tuple[int, str, object]] = {}
        rest: dict[str, object] = {}
        for key, value in tags.items():
            hit = self._match(str(key))
            if hit is None:
                rest[str(key)] = value
                continue
            column, rank = hit
            if column in found and found[column][0] <= rank:
                rest[str(key)] = value
                continue
            if column in found:  # a better-spelled key wins; keep the other in the rest
                rest[found[column][1]] = found[column][2]
            found[column] = (rank, str(key), value)
        return found, rest
