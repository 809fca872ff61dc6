"""Heartbeat batches (schema/heartbeat-v1.schema.json): strict validation with errors that
name the field, and idempotent storage of the latest state and per-minute rollups."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

SCHEMA = "finops.heartbeat/v1"
BATCH_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
STATES = {"ok", "degraded", "error"}
PROVIDERS = {"aws", "gcp", "azure", None}


class HeartbeatError(ValueError):
    def __init__(self, field: str, why: str):
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why


def _time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise HeartbeatError(field, "must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HeartbeatError(field, f"{value[:40]!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise HeartbeatError(field, "needs a time zone (end it with Z)")
    return parsed


def _text(obj: dict, key: str, field: str, limit: int, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise HeartbeatError(field, "is required")
        return None
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        raise HeartbeatError(field, f"must be a string of at most {limit} characters")
    return value


def _number(value: Any, field: str, low: float = -1e12, high: float = 1e12) -> float:
    # type() not isinstance(): a bool is an int to isinstance; NaN fails the range check
    if type(value) not in (int, float) or not low <= value <= high:
        raise HeartbeatError(field, f"must be a number between {low:g} and {high:g}")
    return float(value)


def _stat(gpu: dict, key: str, high: float) -> dict | None:
    value = gpu.get(key)
    if value is None:
        return None
    if type(value) is not dict:
        raise HeartbeatError(key, "must be an object {min, mean, max}")
    low, mean, top = value.get("min"), value.get("mean"), value.get("max")
    for name, number in (("min", low), ("mean", mean), ("max", top)):
        if type(number) not in (int, float) or not 0 <= number <= high:
            raise HeartbeatError(f"{key}.{name}", f"must be a number between 0 and {high:g}")
    if not low <= mean <= top:
        raise HeartbeatError(key, "needs min <= mean <= max")
    return {"min": float(low), "mean": float(mean), "max": float(top)}


def _gpu(gpu: Any) -> dict:
    """One GPU entry; field names in errors are relative to it."""
    if type(gpu) is not dict:
        raise HeartbeatError("", "must be an object")
    index = gpu.get("index")
    if type(index) is not int or not 0 <= index <= 63:
        raise HeartbeatError("index", "must be an integer from 0 to 63")
    state = gpu.get("state")
    if state not in STATES:
        raise HeartbeatError("state", "must be ok, degraded or error")
    processes = gpu.get("processes") or []
    if (
        type(processes) is not list
        or len(processes) > 64
        or not all(type(p) is dict and type(p.get("pid")) is int for p in processes)
    ):
        raise HeartbeatError("processes", "must be a list of {pid, used_memory_mb}")
    total = gpu.get("mem_total_mb")
    return {
        "index": index,
        "state": state,
        "uuid": _text(gpu, "uuid", "uuid", 96),
        "name": _text(gpu, "name", "name", 128),
        "error": _text(gpu, "error", "error", 500),
        "util": _stat(gpu, "util", 100),
        "mem_used_mb": _stat(gpu, "mem_used_mb", 1e7),
        "power_w": _stat(gpu, "power_w", 1e5),
        "temp_c": _stat(gpu, "temp_c", 500),
        "mem_total_mb": None if total is None else _number(total, "mem_total_mb", 0, 1e7),
        "processes": len(processes),
        "process_mem_mb": sum(
            _number(p.get("used_memory_mb", 0), "processes.used_memory_mb", 0, 1e7)
            for p in processes
        ),
    }


def validate_batch(payload: Any) -> dict:
    """A parsed JSON body → the batch, normalised; HeartbeatError names what is wrong."""
    if not isinstance(payload, dict):
        raise HeartbeatError("(body)", "must be a JSON object")
    if payload.get("schema") != SCHEMA:
        raise HeartbeatError("schema", f"must be {SCHEMA!r}")
    batch_id = payload.get("batch_id")
    if not isinstance(batch_id, str) or not BATCH_ID.match(batch_id):
        raise HeartbeatError("batch_id", "must be 8-64 characters of A-Z a-z 0-9 _ . : -")
    node = payload.get("node")
    if not isinstance(node, dict):
        raise HeartbeatError("node", "must be an object with at least a hostname")
    hostname = _text(node, "hostname", "node.hostname", 255, required=True)
    if node.get("provider") not in PROVIDERS:
        raise HeartbeatError("node.provider", "must be aws, gcp, azure or null")
    spot = node.get("spot")
    if spot is not None and not isinstance(spot, bool):
        raise HeartbeatError("node.spot", "must be true, false or null")
    clean_node = {
        "hostname": hostname,
        "provider": node.get("provider"),
        "spot": spot,
        **{
            k: _text(node, k, f"node.{k}", 512 if k == "instance_id" else 128)
            for k in ("instance_id", "instance_type", "region", "zone")
        },
    }
    labels = payload.get("labels") or {}
    if not isinstance(labels, dict) or set(labels) - {"project", "owner", "job"}:
        raise HeartbeatError("labels", "must be an object with only project, owner, job")
    clean_labels = {k: _text(labels, k, f"labels.{k}", 256) for k in ("project", "owner", "job")}
    progress = payload.get("progress")
    if progress is not None and (
        isinstance(progress, bool) or not isinstance(progress, int) or progress < 0
    ):
        raise HeartbeatError("progress", "must be a non-negative integer or null")
    window = payload.get("window")
    if not isinstance(window, dict):
        raise HeartbeatError("window", "must be an object {start, end, samples}")
    start, end = _time(window.get("start"), "window.start"), _time(window.get("end"), "window.end")
    if end < start or end - start > timedelta(hours=1):
        raise HeartbeatError("window", "must end after it starts, within an hour")
    samples = window.get("samples")
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 3600:
        raise HeartbeatError("window.samples", "must be an integer from 1 to 3600")
    gpus = payload.get("gpus")
    if not isinstance(gpus, list) or len(gpus) > 64:
        raise HeartbeatError("gpus", "must be a list of at most 64 GPUs")
    clean_gpus, seen = [], set()
    for i, gpu in enumerate(gpus):
        try:
            clean = _gpu(gpu)
        except HeartbeatError as exc:
            field = f"gpus[{i}].{exc.field}" if exc.field else f"gpus[{i}]"
            raise HeartbeatError(field, exc.why) from None
        if clean["index"] in seen:
            raise HeartbeatError(f"gpus[{i}].index", f"GPU {clean['index']} appears twice")
        seen.add(clean["index"])
        clean_gpus.append(clean)
    return {
        "batch_id": batch_id,
        "node": clean_node,
        "labels": clean_labels,
        "progress": progress,
        "end": end,
        "gpus": clean_gpus,
    }


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
    each, False when its batch_id was stored before (a replay, also within ``items``).
    ``idle_util``: a minute whose max utilisation reaches it moves the GPU's busy timer.

    Starts with BEGIN IMMEDIATE, so a busy cache fails before anything is written and the
    caller may simply try again."""
    stamp = now.isoformat(timespec="seconds")
    stored: list[bool] = []
    latest: list[tuple] = []
    minutes: list[tuple] = []
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        for token_id, batch in items:
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
    removed = 0
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
