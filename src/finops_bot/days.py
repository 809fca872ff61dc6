"""UTC billing days as the cache stores them: whole days since 1970-01-01."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

EPOCH_DATE = date(1970, 1, 1)
EPOCH = np.datetime64("1970-01-01", "D")


def day_number(d: date) -> int:
    """2026-11-22 → 20414."""
    return (d - EPOCH_DATE).days


def day_date(n: int) -> date:
    """20414 → 2026-11-22."""
    return EPOCH_DATE + timedelta(days=int(n))


def day_iso(n: int) -> str:
    return day_date(n).isoformat()
