"""Match names as people type them to the names the cache knows.

``bert_training``, ``BERT Training`` and ``bert-training`` are one name: case, spaces,
underscores and dots fold to dashes. Keys that fold to the same form are answered together.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

SEARCH_ORDER = ("project", "team", "owner", "service", "account", "provider", "region")
ALIASES = {
    "provider": {
        "aws": "aws",
        "amazon": "aws",
        "amazon-web-services": "aws",
        "gcp": "google-cloud",
        "google": "google-cloud",
        "google-cloud-platform": "google-cloud",
        "azure": "microsoft",
        "microsoft-azure": "microsoft",
        "oci": "oracle",
        "oracle-cloud": "oracle",
    },
    "service": {
        "ec2": "amazon-elastic-compute-cloud",
        "s3": "amazon-simple-storage-service",
        "sagemaker": "amazon-sagemaker",
        "rds": "amazon-relational-database-service",
        "eks": "amazon-elastic-kubernetes-service",
        "cloudwatch": "amazon-cloudwatch",
        "gce": "compute-engine",
        "gcs": "cloud-storage",
        "bq": "bigquery",
        "vertex": "vertex-ai",
        "gke": "kubernetes-engine",
        "vm": "virtual-machines",
        "vms": "virtual-machines",
        "azure-ml": "azure-machine-learning",
        "blob": "storage",
        "aks": "azure-kubernetes-service",
    },
}


def fold(name: str) -> str:
    return re.sub(r"[\s_.\-/]+", "-", name.strip().lower()).strip("-")


def canonical(keys: list[str] | tuple[str, ...]) -> str:
    """Of several spellings of one name, the one already in folded form, else the first."""
    ordered = sorted(set(keys))
    return next((k for k in ordered if fold(k) == k), ordered[0])


@dataclass(frozen=True)
class Match:
    dim: str
    keys: tuple[str, ...]  # raw keys as stored (one or more spellings)
    label: str  # what to call it in answers


@dataclass(frozen=True)
class NoMatch:
    dim: str | None
    name: str
    suggestions: tuple[str, ...]


class NameIndex:
    """All known names per dimension, loaded once per cache version."""

    def __init__(self, rows: list[tuple[str, str, str]]):
        self.by_dim: dict[str, dict[str, list[str]]] = {}
        self.labels: dict[tuple[str, str], str] = {}
        for dim, key, label in rows:
            if not key:
                continue
            folded = self.by_dim.setdefault(dim, {})
            folded.setdefault(fold(key), []).append(key)
            if label:
                folded.setdefault(fold(label), []).append(key)
                self.labels[(dim, key)] = label

    def known(self, dim: str) -> bool:
        return bool(self.by_dim.get(dim))

    def _match_in(self, dim: str, name: str) -> Match | None:
        folded = self.by_dim.get(dim, {})
        wanted = fold(name)
        keys = folded.get(wanted)
        if not keys:
            alias = ALIASES.get(dim, {}).get(wanted)
            if alias:
                keys = folded.get(alias) or [
                    k for f, ks in folded.items() if f.startswith(alias) for k in ks
                ]
        if not keys and dim in ("service", "region", "account") and len(wanted) >= 3:
            # a unique part of a long name: "elastic compute" → Amazon Elastic Compute Cloud
            hits = {k for f, ks in folded.items() if wanted in f for k in ks}
            if len(hits) == 1:
                keys = list(hits)
        if not keys:
            return None
        keys = sorted(set(keys))
        label = canonical(keys)
        shown = self.labels.get((dim, label))
        return Match(dim, tuple(keys), f"{shown} ({label})" if shown else label)

    def resolve(self, dim: str | None, name: str) -> Match | NoMatch:
        dims = [dim] if dim else list(SEARCH_ORDER)
        for d in dims:
            hit = self._match_in(d, name)
            if hit:
                return hit
        return NoMatch(dim, name, tuple(self.suggest(dims, name)))

    def suggest(self, dims: list[str], name: str, limit: int = 3) -> list[str]:
        wanted = fold(name)
        scored: list[tuple[float, str]] = []
        for d in dims:
            for f, keys in self.by_dim.get(d, {}).items():
                score = difflib.SequenceMatcher(None, wanted, f).ratio()
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
