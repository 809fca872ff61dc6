"""Hourly instance usage (m023 ``instance_hours``) and the reads portfolio advice needs.

A steady baseline is a low percentile of hourly instance counts: daily totals hide a
nightly trough (8 instances by day and 2 by night average 5.5 a day, and committing to 5.5
leaves 3.5 paid for and idle every night). So the loader keeps, before it rolls rows up to
days, the usage hours of each UTC hour: per load and dimension combination, for the Usage
rows of GPU instance types billed in hours whose charge period is an hour or shorter. A
daily file writes nothing; the reads then fall back on heartbeats or on daily totals.

Written once per load (``HourTracker.write``), deleted with the load's facts (rollups,
deliveries and the sync window delete it). Reads sum over live loads (those in ``loads``).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlite_utils import Database

from finops_bot.days import day_iso
from finops_bot.store.chunk import Chunk
from finops_bot.store.schema import KEY_COLUMNS

HOUR_SECONDS = 3_600
DAY_SECONDS = 86_400
HOUR_UNITS = {"hrs", "hours", "hour", "h", "hr"}  # as ingest.gpus reads ConsumedUnit
_BLOCK = re.compile(r"^\d+\s+")  # Azure's "1 Hour", "10 Hours"
_COLUMN = {c: i for i, c in enumerate(KEY_COLUMNS)}
_COMPACT_ROWS = 500_000


def _hours_unit(unit: str | None) -> bool:
    return _BLOCK.sub("", (unit or "").strip().lower()) in HOUR_UNITS


def _kept_key(key: tuple) -> bool:
    """A GPU instance type's usage, billed in hours."""
    return (
        (key[_COLUMN["charge_category"]] or "").strip().lower() == "usage"
        and bool((key[_COLUMN["instance_type"]] or "").strip())
        and bool((key[_COLUMN["gpu_model"]] or "").strip())
        and _hours_unit(key[_COLUMN["consumed_unit"]])
    )


class HourTracker:
    """Collects a load's hourly instance usage from its chunks; ``write`` stores it.

    ``window``: the sync window's first and last day numbers (rows outside it are not
    stored by the loader, so they are not kept here either)."""

    def __init__(self, window: tuple[int, int] | None = None):
        self.window = window
        self._parts: list[pd.DataFrame] = []
        self._rows = 0
        self._merged = 0

    def add(self, chunk: Chunk, key_ids: np.ndarray) -> None:
        """Keep the chunk's hourly rows of GPU instance usage (``key_ids``: the global
        charge_keys id of each row), summed per (hour, key)."""
        if not chunk.subdaily or chunk.rows == 0:
            return
        kept = np.fromiter((_kept_key(k) for k in chunk.key_tuples), bool, len(chunk.key_tuples))
        mask = kept[chunk.key_codes]
        if not mask.any():
            return
        mask &= self._short(chunk)
        hours = chunk.consumed_quantity
        with np.errstate(invalid="ignore"):
            mask &= ~np.isnan(hours) & (hours > 0) & ~(chunk.billed < 0)  # a negation: none
            if chunk.gpu_hours is not None:  # EBSOptimized:p3…, GCP vCPU SKUs: no GPU-hours
                mask &= chunk.gpu_hours > 0
        if self.window is not None:
            mask &= (chunk.days >= self.window[0]) & (chunk.days <= self.window[1])
        if not mask.any():
            return
        part = pd.DataFrame(
            {
                "hour": chunk.starts[mask] // HOUR_SECONDS,
                "key_id": np.asarray(key_ids)[mask],
                "usage_hours": hours[mask],
                "cost": np.nan_to_num(chunk.effective[mask]),
            }
        )
        self._parts.append(part.groupby(["hour", "key_id"], as_index=False).sum())
        self._rows += len(self._parts[-1])
        if self._rows > max(_COMPACT_ROWS, 2 * self._merged):
            merged = self._summary()
            self._parts, self._rows, self._merged = [merged], len(merged), len(merged)

    @staticmethod
    def _short(chunk: Chunk) -> np.ndarray:
        """Rows whose charge period is an hour or shorter (a row with no end ends with
        its day, as the loader reads it)."""
        starts = chunk.starts
        ends = (starts // DAY_SECONDS + 1) * DAY_SECONDS
        given = chunk.extras.end if chunk.extras is not None else None
        if given is not None:
            ends = np.where(np.isnan(given), ends, given)
        length = ends - starts
        return (length > 0) & (length <= HOUR_SECONDS)

    def _summary(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame({"hour": [], "key_id": [], "usage_hours": [], "cost": []})
        merged = pd.concat(self._parts, ignore_index=True)
        return merged.groupby(["hour", "key_id"], as_index=False).sum()

    def write(self, conn: sqlite3.Connection, load_id: int) -> None:
        """Store what was collected under ``load_id`` (inside the loader's transaction)."""
        summary = self._summary()
        if not len(summary):
            return
        conn.executemany(
            "INSERT INTO instance_hours (hour, load_id, key_id, usage_hours, cost) "
            "VALUES (?,?,?,?,?) ON CONFLICT (hour, load_id, key_id) DO UPDATE SET "
            "usage_hours = usage_hours + excluded.usage_hours, cost = cost + excluded.cost",
            zip(
                summary["hour"].astype(np.int64).tolist(),
                [load_id] * len(summary),
                summary["key_id"].astype(np.int64).tolist(),
                summary["usage_hours"].tolist(),
                summary["cost"].tolist(),
                strict=True,
            ),
        )


@dataclass(frozen=True)
class Usage:
    """Usage of one instance type in one hour (or day), summed over live loads."""

    at: int  # hours since the epoch (hourly) or day number (daily)
    provider: str
    instance_type: str
    pricing_category: str
    currency: str
    hours: float  # usage hours as billed (GPU-hours for GCP GPU SKUs, GPU-hours daily)
    cost: float  # EffectiveCost


def hourly_usage(db: Database, first_day: int, last_day: int) -> list[Usage]:
    """instance_hours in the days ``first_day``..``last_day`` (day numbers), per hour,
    provider, instance type, pricing category and currency; ``hours`` = usage hours."""
    rows = db.execute(
        "SELECT h.hour, k.provider, k.instance_type, k.pricing_category, k.currency, "
        "SUM(h.usage_hours), SUM(h.cost) FROM instance_hours h "
        "JOIN loads l ON l.id = h.load_id JOIN charge_keys k ON k.id = h.key_id "
        "WHERE h.hour BETWEEN ? AND ? GROUP BY 1, 2, 3, 4, 5 ORDER BY 1",
        (first_day * 24, last_day * 24 + 23),
    ).fetchall()
    return [Usage(*row) for row in rows]


def daily_usage(db: Database, first_day: int, last_day: int) -> list[Usage]:
    """GPU instance usage per day from daily_keys (every load, hourly or daily):
    ``hours`` = GPU-hours (the instance's own hours × its GPUs; none for the usage types
    that only name an instance), cost = EffectiveCost of those rows."""
    rows = db.execute(
        "SELECT d.day, k.provider, k.instance_type, k.pricing_category, k.currency, "
        "SUM(d.gpu_hours), SUM(d.effective_cost) FROM daily_keys d "
        "JOIN loads l ON l.id = d.load_id JOIN charge_keys k ON k.id = d.key_id "
        "WHERE d.day BETWEEN ? AND ? AND d.gpu_hours > 0 AND k.instance_type != '' "
        "AND lower(k.charge_category) = 'usage' GROUP BY 1, 2, 3, 4, 5 ORDER BY 1",
        (first_day, last_day),
    ).fetchall()
    return [Usage(*row) for row in rows]


def hourly_span(db: Database) -> tuple[int | None, int | None]:
    """The first and last hour instance_hours holds for live loads."""
    first, last = db.execute(
        "SELECT MIN(h.hour), MAX(h.hour) FROM instance_hours h JOIN loads l ON l.id = h.load_id"
    ).fetchone()
    return first, last


@dataclass(frozen=True)
class NodeHour:
    """One GPU node's heartbeat minutes in one UTC hour."""

    node: str
    hour: int  # hours since the epoch
    minutes: int
    provider: str
    instance_type: str
    spot: bool


# the node's counting GPU (as gpu_node_days counts it): one GPU's minutes per node
_NODES = (
    "SELECT n.node, (SELECT x.gpu FROM gpu_latest x WHERE x.node = n.node "
    "ORDER BY x.window_end DESC, x.gpu_index, x.gpu LIMIT 1) AS gpu, "
    "(SELECT COALESCE(x.provider, '') || char(31) || COALESCE(x.instance_type, '') || char(31) "
    "|| COALESCE(x.spot, 0) FROM gpu_latest x WHERE x.node = n.node "
    "ORDER BY x.window_end DESC LIMIT 1) AS info FROM (SELECT DISTINCT node FROM gpu_latest) n"
)


def heartbeat_hours(db: Database, first_day: int, last_day: int) -> list[NodeHour]:
    """Per node and UTC hour, the minutes it reported in the days ``first_day``..
    ``last_day``, with its provider, instance type and Spot flag (gpu_latest)."""
    lo, hi = day_iso(first_day), day_iso(last_day + 1)
    rows = db.execute(
        f"SELECT c.node, substr(m.minute, 1, 13), COUNT(*), c.info FROM ({_NODES}) c "
        "JOIN gpu_minutes m ON m.node = c.node AND m.gpu = c.gpu "
        "WHERE m.minute >= ? AND m.minute < ? GROUP BY 1, 2",
        (lo, hi),
    ).fetchall()
    out, hours = [], {}
    for node, hour, minutes, info in rows:
        provider, itype, spot = (info or "\x1f\x1f0").split("\x1f")
        at = hours.get(hour)
        if at is None:
            stamp = datetime.fromisoformat(hour + ":00").replace(tzinfo=UTC)
            at = hours[hour] = int(stamp.timestamp()) // HOUR_SECONDS
        out.append(NodeHour(node, at, int(minutes), provider, itype, spot == "1"))
    return out


def heartbeat_span(db: Database) -> tuple[str | None, str | None]:
    """The first and last heartbeat minute held (ISO minutes), or (None, None)."""
    first, last = db.execute("SELECT MIN(minute), MAX(minute) FROM gpu_minutes").fetchone()
    return first, last
