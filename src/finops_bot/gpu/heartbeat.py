"""Heartbeat batches (schema/heartbeat-v1.schema.json): idempotent storage of the latest
state and per-minute rollups, and retention. Validation lives in gpu/batch.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from finops_bot.gpu.batch import HeartbeatError, check_clock, validate_batch
from finops_bot.store.schema import PLAUSIBLE_FROM, PLAUSIBLE_TO

__all__ = [
    "HeartbeatError",
    "NotYours",
    "check_clock",
    "prune",
    "store_batches",
    "validate_batch",
]


def node_key(node: dict) -> str:
    return node["instance_id"] or node["hostname"]


_NO_STAT = {"min": None, "mean": None, "max": None}


def _gpu_rows(batch: dict, stamp: str, idle_util: float) -> tuple[list[tuple], list[tuple]]:
    node, labels, progress = batch["node"], batch["labels"], batch["progress"]
    key = node_key(node)
    minute = batch["end"].strftime("%Y-%m-%dT%H:%M")
    end = batch["end"].isoformat()
    spot = None if node["spot"] is None else int(node["spot"])
    project, owner = labels["project"], labels["owner"]
    node_part = (
        node["hostname"],
        node["provider"],
        node["instance_id"],
        node["instance_type"],
        node["region"],
        node["zone"],
        node["account"],
        None if labels.get("checkpoints") is None else int(labels["checkpoints"]),
        spot,
        project,
        owner,
        labels["job"],
        progress,
    )
    latest, minutes = [], []
    for gpu in batch["gpus"]:
        gpu_key = gpu["uuid"] or f"index:{gpu['index']}"
        util = gpu["util"] or _NO_STAT
        mem = (gpu["mem_used_mb"] or _NO_STAT)["mean"]
        power = (gpu["power_w"] or _NO_STAT)["mean"]
        temp = (gpu["temp_c"] or _NO_STAT)["mean"]
        n, held = gpu["processes"], gpu["process_mem_mb"]
        u_min, u_mean, u_max = util["min"], util["mean"], util["max"]
        latest.append(
            (key, gpu_key)
            + node_part
            + (gpu["index"], gpu["name"], gpu["state"], gpu["error"], u_min, u_mean, u_max)
            + (mem, gpu["mem_total_mb"], power, temp, n, held, end, stamp)
            + (minute if u_max is not None and u_max >= idle_util else None, minute, minute)
        )
        minutes.append(
            (key, gpu_key, minute, u_min, u_mean, u_max, mem, power, n, held, progress)
            + (project, owner)
        )
    return latest, minutes


LATEST_COLUMNS = [
    "node",
    "gpu",
    "hostname",
    "provider",
    "instance_id",
    "instance_type",
    "region",
    "zone",
    "account",
    "checkpoints",
    "spot",
    "project",
    "owner",
    "job",
    "progress",
    "gpu_index",
    "name",
    "state",
    "error",
    "util_min",
    "util_mean",
    "util_max",
    "mem_used_mb",
    "mem_total_mb",
    "power_w",
    "temp_c",
    "processes",
    "process_mem_mb",
    "window_end",
    "received_at",
]
_NEWER = "excluded.window_end >= gpu_latest.window_end"
# A batch that arrives late (an agent's buffer after an outage) does not overwrite a newer
# state; the timers still take what it tells: a busy minute, an earlier first minute.
_LATEST = (
    f"INSERT INTO gpu_latest ({', '.join(LATEST_COLUMNS)}, busy_minute, first_minute, "
    f"progress_minute) VALUES ({','.join('?' * (len(LATEST_COLUMNS) + 3))}) "
    "ON CONFLICT (node, gpu) DO UPDATE SET "
    + ", ".join(
        f"{c} = CASE WHEN {_NEWER} THEN excluded.{c} ELSE gpu_latest.{c} END"
        for c in LATEST_COLUMNS[2:]
    )
    + ", busy_minute = NULLIF(MAX(COALESCE(excluded.busy_minute, ''), "
    "COALESCE(gpu_latest.busy_minute, '')), '')"
    ", first_minute = MIN(excluded.first_minute, gpu_latest.first_minute)"
    f", progress_minute = CASE WHEN NOT ({_NEWER}) OR excluded.progress IS gpu_latest.progress "
    "THEN gpu_latest.progress_minute ELSE excluded.progress_minute END"
)
_MINUTES = "INSERT OR REPLACE INTO gpu_minutes VALUES (" + ",".join("?" * 13) + ")"


def store_batches(
    db: Database, items: list[tuple[int, dict]], now: datetime, idle_util: float = 5.0
) -> list[bool]:
    """Store validated ``(token_id, batch)`` pairs in one transaction (group commit); for
    each, False when its batch_id was stored before (a replay, also within ``items``), or
    NotYours when the node belongs to another token.
    ``idle_util``: a minute whose max utilisation reaches it moves the GPU's busy timer.

    Starts with BEGIN IMMEDIATE, so a busy cache fails before anything is written and the
    caller may simply try again."""
    stamp = now.isoformat(timespec="seconds")
    stored: list[bool | NotYours] = []
    latest: list[tuple] = []
    minutes: list[tuple] = []
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        for token_id, batch in items:
            refused = _claim(conn, node_key(batch["node"]), token_id, stamp)
            if refused is not None:
                stored.append(refused)
                continue
            new = (
                conn.execute(
                    "INSERT OR IGNORE INTO heartbeat_batches VALUES (?,?,?,?)",
                    (batch["batch_id"], token_id, node_key(batch["node"]), stamp),
                ).rowcount
                == 1
            )
            stored.append(new)
            if new:
                rows_latest, rows_minutes = _gpu_rows(batch, stamp, idle_util)
                latest += rows_latest
                minutes += rows_minutes
        conn.executemany(_LATEST, latest)
        conn.executemany(_MINUTES, minutes)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return stored


@dataclass(frozen=True)
class NotYours:
    """A batch for a node another agent token reported first (answered 403)."""

    why: str


def _claim(conn, node: str, token_id: int, stamp: str) -> NotYours | None:
    """Bind ``node`` to the first token that reports it. Another token may take it over
    only when the first is revoked (rotation) or it was created with --can-claim."""
    row = conn.execute("SELECT token_id FROM node_tokens WHERE node = ?", (node,)).fetchone()
    if row is None:
        conn.execute("INSERT INTO node_tokens VALUES (?,?,?)", (node, token_id, stamp))
        return None
    if row[0] == token_id:
        return None
    tokens = dict(
        (tid, (name, revoked, claim))
        for tid, name, revoked, claim in conn.execute(
            "SELECT id, name, revoked_at, can_claim FROM agent_tokens WHERE id IN (?, ?)",
            (row[0], token_id),
        )
    )
    first, mine = tokens.get(row[0], ("?", "gone", 0)), tokens.get(token_id, ("?", None, 0))
    if first[1] is not None or mine[2]:
        conn.execute(
            "UPDATE node_tokens SET token_id = ?, bound_at = ? WHERE node = ?",
            (token_id, stamp, node),
        )
        return None
    return NotYours(
        f"node {node} belongs to agent token {first[0]!r}; token {mine[0]!r} may not report it "
        "(revoke the first token, or create this one with agent-token create --can-claim)"
    )


def store_batch(
    db: Database, token_id: int, batch: dict, now: datetime, idle_util: float = 5.0
) -> bool:
    """Store one validated batch; False when that batch_id was stored before (a replay)."""
    return store_batches(db, [(token_id, batch)], now, idle_util)[0]


def prune(db: Database, now: datetime, keep_days: int = 14, chunk_minutes: int = 10) -> int:
    """Drop rollups and replay records older than the retention, ``chunk_minutes`` of data
    per transaction: the heartbeat endpoint writes between chunks instead of waiting for
    one long delete."""
    cutoff = now - timedelta(days=keep_days)
    end = cutoff.strftime("%Y-%m-%dT%H:%M")
    with db.conn:  # a minute no clock could give (stored before windows were checked)
        removed = db.execute(
            "DELETE FROM gpu_minutes WHERE NOT (minute >= ? AND minute < ?)",
            (PLAUSIBLE_FROM, PLAUSIBLE_TO),
        ).rowcount
    while True:
        oldest = db.execute("SELECT MIN(minute) FROM gpu_minutes").fetchone()[0]
        if oldest is None or oldest >= end:
            break
        upto = min(
            end,
            (datetime.fromisoformat(oldest) + timedelta(minutes=chunk_minutes)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
        )
        with db.conn:
            removed += db.execute("DELETE FROM gpu_minutes WHERE minute < ?", (upto,)).rowcount
    stamp = cutoff.isoformat(timespec="seconds")
    with db.conn:  # nodes not heard from within the retention: decommissioned
        db.execute("DELETE FROM gpu_latest WHERE received_at < ?", (stamp,))
    while True:
        with db.conn:
            gone = db.execute(
                "DELETE FROM heartbeat_batches WHERE batch_id IN (SELECT batch_id FROM "
                "heartbeat_batches WHERE received_at < ? LIMIT 20000)",
                (stamp,),
            ).rowcount
        if gone == 0:
            break
    return removed
