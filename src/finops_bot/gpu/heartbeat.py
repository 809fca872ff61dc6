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
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value != value
        or not low <= value <= high
    ):
        raise HeartbeatError(field, f"must be a number between {low:g} and {high:g}")
    return float(value)


def _stat(gpu: dict, key: str, field: str, high: float) -> dict | None:
    value = gpu.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HeartbeatError(field, "must be an object {min, mean, max}")
    out = {k: _number(value.get(k), f"{field}.{k}", 0, high) for k in ("min", "mean", "max")}
    if not out["min"] <= out["mean"] <= out["max"]:
        raise HeartbeatError(field, "needs min <= mean <= max")
    return out


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
        field = f"gpus[{i}]"
        if not isinstance(gpu, dict):
            raise HeartbeatError(field, "must be an object")
        index = gpu.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= 63:
            raise HeartbeatError(f"{field}.index", "must be an integer from 0 to 63")
        if index in seen:
            raise HeartbeatError(f"{field}.index", f"GPU {index} appears twice")
        seen.add(index)
        if gpu.get("state") not in STATES:
            raise HeartbeatError(f"{field}.state", "must be ok, degraded or error")
        processes = gpu.get("processes") or []
        if (
            not isinstance(processes, list)
            or len(processes) > 64
            or not all(isinstance(p, dict) and isinstance(p.get("pid"), int) for p in processes)
        ):
            raise HeartbeatError(f"{field}.processes", "must be a list of {pid, used_memory_mb}")
        clean_gpus.append(
            {
                "index": index,
                "state": gpu["state"],
                "uuid": _text(gpu, "uuid", f"{field}.uuid", 96),
                "name": _text(gpu, "name", f"{field}.name", 128),
                "error": _text(gpu, "error", f"{field}.error", 500),
                "util": _stat(gpu, "util", f"{field}.util", 100),
                "mem_used_mb": _stat(gpu, "mem_used_mb", f"{field}.mem_used_mb", 1e7),
                "power_w": _stat(gpu, "power_w", f"{field}.power_w", 1e5),
                "temp_c": _stat(gpu, "temp_c", f"{field}.temp_c", 500),
                "mem_total_mb": _number(gpu["mem_total_mb"], f"{field}.mem_total_mb", 0, 1e7)
                if gpu.get("mem_total_mb") is not None
                else None,
                "processes": len(processes),
                "process_mem_mb": sum(
                    _number(p.get("used_memory_mb", 0), f"{field}.processes.used_memory_mb", 0, 1e7)
                    for p in processes
                ),
            }
        )
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


def store_batch(db: Database, token_id: int, batch: dict, now: datetime) -> bool:
    """Store one validated batch; False when that batch_id was stored before (a replay)."""
    node = batch["node"]
    key = node_key(node)
    minute = batch["end"].strftime("%Y-%m-%dT%H:%M")
    stamp = now.isoformat(timespec="seconds")
    labels = batch["labels"]
    with db.conn:
        cur = db.execute(
            "INSERT OR IGNORE INTO heartbeat_batches VALUES (?,?,?,?)",
            (batch["batch_id"], token_id, key, stamp),
        )
        if cur.rowcount == 0:
            return False
        for gpu in batch["gpus"]:
            gpu_key = gpu["uuid"] or f"index:{gpu['index']}"
            util = gpu["util"] or {}
            mem = gpu["mem_used_mb"] or {}
            power = gpu["power_w"] or {}
            temp = gpu["temp_c"] or {}
            db.execute(
                "INSERT OR REPLACE INTO gpu_latest VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    gpu_key,
                    node["hostname"],
                    node["provider"],
                    node["instance_id"],
                    node["instance_type"],
                    node["region"],
                    node["zone"],
                    None if node["spot"] is None else int(node["spot"]),
                    labels["project"],
                    labels["owner"],
                    labels["job"],
                    batch["progress"],
                    gpu["index"],
                    gpu["name"],
                    gpu["state"],
                    gpu["error"],
                    util.get("min"),
                    util.get("mean"),
                    util.get("max"),
                    mem.get("mean"),
                    gpu["mem_total_mb"],
                    power.get("mean"),
                    temp.get("mean"),
                    gpu["processes"],
                    gpu["process_mem_mb"],
                    batch["end"].isoformat(),
                    stamp,
                ),
            )
            db.execute(
                "INSERT OR REPLACE INTO gpu_minutes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    gpu_key,
                    minute,
                    util.get("min"),
                    util.get("mean"),
                    util.get("max"),
                    mem.get("mean"),
                    power.get("mean"),
                    gpu["processes"],
                    gpu["process_mem_mb"],
                    batch["progress"],
                    labels["project"],
                    labels["owner"],
                ),
            )
    return True


def prune(db: Database, now: datetime, keep_days: int = 14) -> int:
    """Drop rollups and replay records older than the retention."""
    cutoff = now - timedelta(days=keep_days)
    with db.conn:
        removed = db.execute(
            "DELETE FROM gpu_minutes WHERE minute < ?", (cutoff.strftime("%Y-%m-%dT%H:%M"),)
        ).rowcount
        db.execute(
            "DELETE FROM heartbeat_batches WHERE received_at < ?",
            (cutoff.isoformat(timespec="seconds"),),
        )
    return removed
