"""The source interface, its configuration and its errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import pyarrow as pa

from finops_bot.errors import FinopsError


class SourceError(FinopsError):
    """A source failed in a way a person can act on (the message says what to do)."""


@dataclass(frozen=True)
class SyncWindow:
    start: date  # inclusive
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class SourceConfig:
    name: str
    type: str
    interval_hours: float = 6.0
    refresh_days: int = 5
    options: Mapping[str, Any] = field(default_factory=dict)


class BillingSource(Protocol):
    name: str
    kind: str
    api_calls: int  # requests made by the last fetch (some cost money: CE is USD 0.01 each)

    def fetch(self, window: SyncWindow) -> Iterator[tuple[dict[str, pa.Array | None], int]]:
        """Column batches (FOCUS field → array, rows) covering every day of ``window``."""
        ...


def focus_columns(batch: pa.RecordBatch) -> tuple[dict[str, pa.Array | None], int]:
    """A batch with FOCUS column names → (FOCUS field → array, rows)."""
    from finops_bot.ingest.normalize import FOCUS_FIELDS

    field_of = {name: f for f, name in FOCUS_FIELDS.items()}
    return {
        field_of[c]: batch.column(i) for i, c in enumerate(batch.schema.names) if c in field_of
    }, batch.num_rows
