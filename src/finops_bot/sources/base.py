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

    def fetch(self, window: SyncWindow) -> Iterator[pa.RecordBatch]:
        """Batches with FOCUS column names covering every day of ``window``."""
        ...
