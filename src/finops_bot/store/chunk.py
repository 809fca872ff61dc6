"""The contract between the readers (ingest/) and the loader: a normalised chunk of rows at
the cache's grain, and the rows that could not be read. Defined here so that ``store``
imports nothing above it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class BadRows:
    """Rows (or fields) that could not be read: a count and the first few, with the reason."""

    count: int = 0
    samples: list[tuple[int, str]] = field(default_factory=list)
    limit: int = 10

    def add(self, row_numbers: np.ndarray, reasons: list[str]) -> None:
        self.count += len(row_numbers)
        room = self.limit - len(self.samples)
        for number, reason in zip(row_numbers[:room].tolist(), reasons[:room], strict=False):
            self.samples.append((int(number), reason))

    def merge(self, other: BadRows) -> None:
        self.count += other.count
        room = self.limit - len(self.samples)
        self.samples.extend(other.samples[:room])

    def describe(self, first: int = 5) -> str:
        shown = "; ".join(f"row {n}: {why}" for n, why in sorted(self.samples)[:first])
        more = f" (and {self.count - first} more)" if self.count > first else ""
        return f"{shown}{more}"


def merge_nulled(into: dict[str, BadRows], other: dict[str, BadRows]) -> None:
    for name, bad in other.items():
        into.setdefault(name, BadRows()).merge(bad)


@dataclass
class ChunkExtras:
    """The optional FOCUS columns of store.extras for a chunk's rows, present only when the
    batch carried one of them. The text columns are coded together (one code per distinct
    combination, so they group as one key); numbers are float64, NaN = null."""

    codes: np.ndarray  # int64 per row, index into texts
    texts: list[tuple[str | None, ...]]  # values in store.extras.TEXT_COLUMNS order
    numbers: dict[str, np.ndarray]  # charge_extras column → values, only those carried
    end: np.ndarray | None  # ChargePeriodEnd, epoch seconds; None: every row ends with its day
    carried: frozenset[str]  # FOCUS names of the columns with a value on some row


@dataclass
class Chunk:
    """Normalised rows. Dimension combinations and tag sets are coded locally."""

    rows_in: int
    days: np.ndarray  # int64 days since 1970-01-01 (UTC billing day)
    starts: np.ndarray  # int64 ChargePeriodStart, seconds since the epoch (UTC)
    key_codes: np.ndarray  # int64 index into key_tuples
    key_tuples: list[tuple[str, ...]]  # values in schema.KEY_COLUMNS order
    tag_codes: np.ndarray  # int64 index into tag_texts
    tag_texts: list[str]  # remaining tags as JSON ('' = none)
    resource_id: np.ndarray  # object array of str | None
    sku_id: np.ndarray
    billed: np.ndarray  # float64
    effective: np.ndarray
    list_cost: np.ndarray  # float64, NaN = not given
    consumed_quantity: np.ndarray
    pricing_quantity: np.ndarray
    subdaily: bool
    bad: BadRows  # rows refused (a required field unreadable)
    unreadable_tags: int = 0
    # optional fields that could not be read, by FOCUS column: stored as null, row kept
    nulled: dict[str, BadRows] = field(default_factory=dict)
    gpu_hours: np.ndarray | None = None  # float64, NaN = not a GPU-hour row; None = none
    extras: ChunkExtras | None = None  # None: the batch has none of the optional columns

    @property
    def rows(self) -> int:
        return len(self.days)
