"""Which project, team and owner each compute resource belongs to, from its billing tags:
what ties a GPU node that reports no labels to its owner."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd

from finops_bot.store.schema import KEY_COLUMNS

_SERVICE_CATEGORY = KEY_COLUMNS.index("service_category")
_RESOURCE_TYPE = KEY_COLUMNS.index("resource_type")
_ALLOCATION = [KEY_COLUMNS.index(c) for c in ("project", "team", "owner")]
_COMPUTE_CATEGORIES = {"compute", "ai and machine learning"}


def resource_key(resource_id: str) -> str:
    """The part of a resource id a node knows itself by: the last path segment
    (arn:...:instance/i-0abc → i-0abc; .../virtualMachines/asr-0 → asr-0), lower-cased."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()


def is_compute(key: tuple[str, ...]) -> bool:
    kind = key[_RESOURCE_TYPE].lower()
    return (
        key[_SERVICE_CATEGORY].lower() in _COMPUTE_CATEGORIES
        or "instance" in kind
        or "virtual machine" in kind
    )


class ResourceTracker:
    """The allocation of each compute resource, as first seen in a load. Only instances
    matter and a resource recurs every day, so the per-chunk work is a hash of the chunk's
    ids and nothing after."""

    def __init__(self) -> None:
        self._compute: dict[int, tuple[str, str, str]] = {}  # key id → project, team, owner
        self._seen: dict[str, tuple[int, int]] = {}  # resource id → key id, day

    def note_key(self, key_id: int, key: tuple[str, ...]) -> None:
        if key_id not in self._compute and is_compute(key):
            project, team, owner = (key[i] for i in _ALLOCATION)
            if project or owner:
                self._compute[key_id] = (project, team, owner)

    def remember(self, key_ids: np.ndarray, resource_ids: list, days: pd.Series) -> None:
        if not self._compute:
            return
        keep = np.isin(key_ids, np.fromiter(self._compute, np.int64))
        if not keep.any():
            return
        ids = np.asarray(resource_ids, dtype=object)[keep]
        new = [r for r in pd.unique(ids) if isinstance(r, str) and r and r not in self._seen]
        if not new:
            return
        frame = pd.DataFrame({"rid": ids, "key": key_ids[keep], "day": days.to_numpy()[keep]})
        first = frame[frame["rid"].isin(new)].drop_duplicates("rid")
        for rid, key_id, day in first.itertuples(index=False):
            self._seen[rid] = (int(key_id), int(day))

    def write(self, conn: sqlite3.Connection) -> None:
        rows = []
        for rid, (key_id, day) in self._seen.items():
            project, team, owner = self._compute[key_id]
            rows.append((resource_key(rid), rid, project, team, owner, day))
        conn.executemany(
            "INSERT INTO resource_allocation VALUES (?,?,?,?,?,?) ON CONFLICT(resource_key) "
            "DO UPDATE SET resource_id = excluded.resource_id, project = excluded.project, "
            "team = excluded.team, owner = excluded.owner, day = excluded.day "
            "WHERE excluded.day >= resource_allocation.day",
            rows,
        )
