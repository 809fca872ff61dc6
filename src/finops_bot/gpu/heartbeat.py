"""Heartbeat batches (schema/heartbeat-v1.schema.json): idempotent storage of the latest
state, per-minute rollups and the per-node-day rollup the live estimate reads, and
retention. Validation lives in gpu/batch.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlite_utils import Database

from finops_bot.gpu.batch import HeartbeatError, check_clock, validate_batch
from finops_bot.store.schema import PLAUSIBLE_FROM, PLAUSIBLE_TO

__all__ = [
    "HeartbeatError",
    "NotYours",
    "check_clock",
    "prune",
    "rebuild_node_days",
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
            + (project, owner, labels["job"])
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
_MINUTES = "INSERT OR REPLACE INTO gpu_minutes VALUES (" + ",".join("?" * 14) + ")"


def store_batches(
    db: Database, items: list[tuple[int, dict]], now: datetime, idle_util: float = 5.0
) -> list[bool]:
    """Store validated ``(token_id, batch)`` pairs in one transaction (group commit); for
    each, False when its batch_id was stored before (a replay, also within ``items``), or
    NotYours when the node belongs to another token.
    ``idle_util``: a minute whose max utilisation reaches it moves the GPU's busy timer.

    Each (node, day) the new batches wrote a minute of has its gpu_node_days rows
    recomputed from gpu_minutes in the same transaction (see ``_roll_up``).

    Starts with BEGIN IMMEDIATE, so a busy cache fails before anything is written and the
    caller may simply try again."""
    stamp = now.isoformat(timespec="seconds")
    stored: list[bool | NotYours] = []
    latest: list[tuple] = []
    minutes: list[tuple] = []
    node_days: set[tuple[str, str]] = set()  # (node, UTC day) of the minutes written
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
                node_days.add((node_key(batch["node"]), batch["end"].strftime("%Y-%m-%d")))

        def write() -> None:
            conn.executemany(_LATEST, latest)
            conn.executemany(_MINUTES, minutes)

        _roll_up(conn, node_days, write)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return stored


# gpu_node_days (m019): per node, UTC day and minute labels, the minutes of the node's
# counting GPU and the node's GPUs: what burn.live_estimate prices. The agent reports every
# GPU of a node in each batch, so a node's GPU-minutes are one GPU's minutes × its GPUs; the
# counting GPU is the node's GPU seen last (a replaced GPU's row is not it), lowest index,
# and its GPUs are its gpu_latest rows. Rows are always recomputed from gpu_minutes, never
# incremented: a replayed batch, an overlapping window or a replaced minute cannot count
# twice.
_COUNTING_GPU = (
    "SELECT x.gpu FROM gpu_latest x WHERE x.node = n.node "
    "ORDER BY x.window_end DESC, x.gpu_index, x.gpu LIMIT 1"
)
_NODE_GPUS = "SELECT COUNT(*) FROM gpu_latest x WHERE x.node = n.node"
_COUNTING = (
    f"SELECT n.node, ({_COUNTING_GPU}), ({_NODE_GPUS}) "
    "FROM (SELECT value AS node FROM json_each(?)) n"
)
# (node, lo, hi): the node's days in [lo, hi), ISO days (a minute 'YYYY-MM-DDTHH:MM' of day
# D is >= 'D' and < the next day)
_NODE_DAYS_DELETE = "DELETE FROM gpu_node_days WHERE node = ?1 AND day >= ?2 AND day < ?3"
_NODE_DAYS_INSERT = (
    "INSERT INTO gpu_node_days (node, day, project, owner, gpus, minutes) "
    "SELECT m.node, substr(m.minute, 1, 10), COALESCE(m.project, ''), COALESCE(m.owner, ''), "
    "c.gpus, COUNT(*) "
    f"FROM (SELECT n.node, ({_COUNTING_GPU}) AS gpu, ({_NODE_GPUS}) AS gpus "
    "FROM (SELECT ?1 AS node) n) c "
    "JOIN gpu_minutes m ON m.node = c.node AND m.gpu = c.gpu "
    "WHERE m.minute >= ?2 AND m.minute < ?3 GROUP BY 2, 3, 4"
)


def _counting(conn, nodes: list[str]) -> dict[str, tuple[str | None, int]]:
    """Node → (its counting GPU, its GPUs) as gpu_latest says now."""
    rows = conn.execute(_COUNTING, (json.dumps(nodes),))
    return {node: (gpu, gpus) for node, gpu, gpus in rows}


# one node-day in one pass with no sort: its count, and whether its minutes carry one
# project and one owner (as a day's minutes nearly always do)
_DAY_LABELS = (
    "SELECT c.gpus, COUNT(*), MIN(m.project), MAX(m.project), COUNT(m.project), "
    "MIN(m.owner), MAX(m.owner), COUNT(m.owner) "
    f"FROM (SELECT n.node, ({_COUNTING_GPU}) AS gpu, ({_NODE_GPUS}) AS gpus "
    "FROM (SELECT ?1 AS node) n) c "
    "JOIN gpu_minutes m ON m.node = c.node AND m.gpu = c.gpu "
    "WHERE m.minute >= ?2 AND m.minute < ?3"
)
_NODE_DAYS_ROW = (
    "INSERT INTO gpu_node_days (node, day, project, owner, gpus, minutes) VALUES (?, ?, ?, ?, ?, ?)"
)


def _recompute(conn, ranges: list[tuple[str, str, str]]) -> None:
    """Replace the gpu_node_days rows of each (node, first day, day after the last)."""
    conn.executemany(_NODE_DAYS_DELETE, ranges)
    conn.executemany(_NODE_DAYS_INSERT, ranges)


def _recompute_days(conn, days: list[tuple[str, str, str]]) -> None:
    """``_recompute`` of one-day ranges (``_day``): a day whose minutes carry one project
    and one owner is counted without grouping (half the time of a full day's GROUP BY),
    the others by ``_NODE_DAYS_INSERT``."""
    conn.executemany(_NODE_DAYS_DELETE, days)
    rows, mixed = [], []
    for node, day, after in days:
        gpus, n, p_min, p_max, p_n, o_min, o_max, o_n = conn.execute(
            _DAY_LABELS, (node, day, after)
        ).fetchone()
        if not n:
            continue
        if p_min == p_max and p_n in (0, n) and o_min == o_max and o_n in (0, n):
            rows.append((node, day, p_min or "", o_min or "", gpus, n))
        else:  # relabelled within the day, or unlabelled minutes beside '' ones
            mixed.append((node, day, after))
    conn.executemany(_NODE_DAYS_ROW, rows)
    conn.executemany(_NODE_DAYS_INSERT, mixed)


def _whole(node: str) -> tuple[str, str, str]:
    return node, PLAUSIBLE_FROM, PLAUSIBLE_TO


def _day(node: str, day: str) -> tuple[str, str, str]:
    return node, day, (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _roll_up(conn, node_days: set[tuple[str, str]], write: Callable[[], None]) -> None:
    """Run ``write`` (the batches' gpu_latest and gpu_minutes rows), then recompute the
    gpu_node_days rows of each (node, day) in ``node_days``. A node whose counting GPU or
    GPU count the write changed (its first batch, a new GPU) has all its days recomputed:
    the estimate counts every day by the node's current GPUs, as it always did."""
    nodes = sorted({node for node, _ in node_days})
    if not nodes:
        write()
        return
    before = _counting(conn, nodes)
    write()
    changed = {node for node, now in _counting(conn, nodes).items() if now != before.get(node)}
    _recompute(conn, [_whole(node) for node in sorted(changed)])
    _recompute_days(
        conn, [_day(node, day) for node, day in sorted(node_days) if node not in changed]
    )


def rebuild_node_days(db: Database) -> None:
    """Recompute all of gpu_node_days from gpu_minutes (what m019 did for the minutes a
    cache held before it; for minutes written behind store_batches' back, e.g. a bench)."""
    with db.conn:
        nodes = [
            node
            for (node,) in db.execute(
                "SELECT node FROM gpu_latest UNION SELECT node FROM gpu_node_days"
            )
        ]
        db.execute("DELETE FROM gpu_node_days")
        _recompute(db.conn, [_whole(node) for node in nodes])


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
    one long delete. gpu_node_days follows in the same transactions: a day left with no
    minutes goes with its last ones, the day the last chunk cut into is recomputed with it
    (until then, a day a chunk cut into still counts its pruned minutes: a day outside the
    retention, which no estimate reads), and a node that loses gpu_latest rows
    (decommissioned) is recomputed by the GPUs it has left (none: no rows)."""
    cutoff = now - timedelta(days=keep_days)
    end = cutoff.strftime("%Y-%m-%dT%H:%M")
    with db.conn:  # a minute no clock could give (stored before windows were checked)
        removed = db.execute(
            "DELETE FROM gpu_minutes WHERE NOT (minute >= ? AND minute < ?)",
            (PLAUSIBLE_FROM, PLAUSIBLE_TO),
        ).rowcount
        db.execute(
            "DELETE FROM gpu_node_days WHERE NOT (day >= ? AND day < ?)",
            (PLAUSIBLE_FROM, PLAUSIBLE_TO),
        )
    oldest = db.execute("SELECT MIN(minute) FROM gpu_minutes").fetchone()[0]
    while oldest is not None and oldest < end:
        upto = min(
            end,
            (datetime.fromisoformat(oldest) + timedelta(minutes=chunk_minutes)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
        )
        with db.conn:
            removed += db.execute("DELETE FROM gpu_minutes WHERE minute < ?", (upto,)).rowcount
            db.execute("DELETE FROM gpu_node_days WHERE day < ?", (upto[:10],))
            oldest = db.execute("SELECT MIN(minute) FROM gpu_minutes").fetchone()[0]
            if oldest is None or oldest >= end:  # the last chunk: the day it cut into
                edge = upto[:10]
                nodes = db.execute("SELECT DISTINCT node FROM gpu_node_days WHERE day = ?", (edge,))
                _recompute_days(db.conn, [_day(node, edge) for (node,) in nodes.fetchall()])
    stamp = cutoff.isoformat(timespec="seconds")
    with db.conn:  # nodes not heard from within the retention: decommissioned
        gone = db.execute("SELECT DISTINCT node FROM gpu_latest WHERE received_at < ?", (stamp,))
        nodes = [node for (node,) in gone.fetchall()]
        db.execute("DELETE FROM gpu_latest WHERE received_at < ?", (stamp,))
        _recompute(db.conn, [_whole(node) for node in nodes])
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
