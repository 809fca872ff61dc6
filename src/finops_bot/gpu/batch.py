"""Heartbeat batch validation: the hand-written mirror of schema/heartbeat-v1.schema.json
(the source of truth for shape and ranges), plus the rules a schema cannot say (min <= mean
<= max, memory used within the total, a window that ends after it starts, a GPU index once)
and, in ``check_clock``, the server's clock. Errors name the field. Fast: it runs on the
event loop for every batch, so it formats a message only when something is wrong."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

SCHEMA = "finops.heartbeat/v1"
BATCH_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
# RFC 3339 date-time, as the schema's "format": "date-time" means it
DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
STATES = ("ok", "degraded", "error")
PROVIDERS = ("aws", "gcp", "azure", None)
LABELS = ("project", "owner", "job")
MAX_INT = 2**63 - 1
MB = 2**20
STATS = {"util": (0, 100), "mem_used_mb": (0, MB), "power_w": (0, 2000), "temp_c": (-20, 130)}


class HeartbeatError(ValueError):
    def __init__(self, field: str, why: str):
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why


def _int(value: Any, field: str, low: int, high: int, nullable: bool = False) -> int | None:
    """An integer as JSON Schema means it: 3 or 3.0, never true; within [low, high]."""
    if value is None and nullable:
        return None
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or not low <= value <= high:
        raise HeartbeatError(field, f"must be an integer from {low} to {high}")
    return value


def _num(value: Any, field: str, low: float, high: float, nullable: bool = False) -> float | None:
    if value is None and nullable:
        return None
    # type() not isinstance(): a bool is an int to isinstance; NaN fails the range check
    if type(value) not in (int, float) or not low <= value <= high:
        raise HeartbeatError(field, f"must be a number from {low:g} to {high:g}")
    return float(value)


def _str(obj: dict, key: str, field: str, limit: int, *, low: int = 0, required: bool = False):
    if key not in obj:
        if required:
            raise HeartbeatError(field, "is required")
        return None
    value = obj[key]
    if value is None and not required:
        return None
    if type(value) is not str or not low <= len(value) <= limit:
        raise HeartbeatError(field, f"must be a string of {low} to {limit} characters")
    return value


def _object(value: Any, field: str, nullable: bool = False) -> dict | None:
    if value is None and nullable:
        return None
    if type(value) is not dict:
        raise HeartbeatError(field, "must be an object")
    return value


def _time(value: Any, field: str) -> datetime:
    """An RFC 3339 date-time with any offset → an aware datetime in UTC."""
    if type(value) is not str or not DATE_TIME.match(value):
        raise HeartbeatError(field, "must be an RFC 3339 date-time (2026-11-22T06:00:00Z)")
    try:
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise HeartbeatError(field, f"{value!r} is not a real date-time") from None


def _stat(gpu: dict, key: str, field: str) -> dict | None:
    value = _object(gpu.get(key), field, nullable=True)
    if value is None:
        return None
    low, high = STATS[key]
    out = {}
    for part in ("min", "mean", "max"):
        if part not in value:
            raise HeartbeatError(f"{field}.{part}", "is required")
        out[part] = _num(value[part], f"{field}.{part}", low, high)
    if not out["min"] <= out["mean"] <= out["max"]:
        raise HeartbeatError(field, "needs min <= mean <= max")
    return out


def _processes(gpu: dict, field: str) -> tuple[int, float]:
    processes = gpu.get("processes")
    if processes is None:
        return 0, 0.0
    if type(processes) is not list or len(processes) > 64:
        raise HeartbeatError(field, "must be a list of at most 64 {pid, used_memory_mb}")
    held = 0.0
    for i, process in enumerate(processes):
        where = f"{field}[{i}]"
        _object(process, where)
        if "pid" not in process:
            raise HeartbeatError(f"{where}.pid", "is required")
        _int(process["pid"], f"{where}.pid", 0, 2**32 - 1)
        held += _num(process.get("used_memory_mb"), f"{where}.used_memory_mb", 0, MB, True) or 0
    return len(processes), held


def _gpu(gpu: Any, at: str) -> dict:
    _object(gpu, at)
    for key in ("index", "state"):
        if key not in gpu:
            raise HeartbeatError(f"{at}.{key}", "is required")
    if gpu["state"] not in STATES or type(gpu["state"]) is not str:
        raise HeartbeatError(f"{at}.state", "must be ok, degraded or error")
    total = _num(gpu.get("mem_total_mb"), f"{at}.mem_total_mb", 0, MB, nullable=True)
    stats = {key: _stat(gpu, key, f"{at}.{key}") for key in STATS}
    used = stats["mem_used_mb"]
    if used is not None and total is not None and used["max"] > total:
        raise HeartbeatError(f"{at}.mem_used_mb.max", "is more than mem_total_mb")
    count, held = _processes(gpu, f"{at}.processes")
    return {
        "index": _int(gpu["index"], f"{at}.index", 0, 63),
        "state": gpu["state"],
        "uuid": _str(gpu, "uuid", f"{at}.uuid", 96),
        "name": _str(gpu, "name", f"{at}.name", 128),
        "error": _str(gpu, "error", f"{at}.error", 500),
        **stats,
        "mem_total_mb": total,
        "processes": count,
        "process_mem_mb": held,
    }


def _node(payload: dict) -> dict:
    node = _object(payload.get("node"), "node")
    hostname = _str(node, "hostname", "node.hostname", 255, low=1, required=True)
    provider = node.get("provider")
    if provider not in PROVIDERS or (provider is not None and type(provider) is not str):
        raise HeartbeatError("node.provider", "must be aws, gcp, azure or null")
    spot = node.get("spot")
    if spot is not None and type(spot) is not bool:
        raise HeartbeatError("node.spot", "must be true, false or null")
    out = {"hostname": hostname, "provider": provider, "spot": spot}
    for key, limit in (("instance_id", 512), ("instance_type", 128), ("region", 128)):
        out[key] = _str(node, key, f"node.{key}", limit)
    out["zone"] = _str(node, "zone", "node.zone", 128)
    out["account"] = _str(node, "account", "node.account", 128)
    return out


def _labels(payload: dict) -> dict:
    labels = _object(payload.get("labels"), "labels", nullable=True) or {}
    extra = set(labels) - {*LABELS, "checkpoints"}
    if extra:
        raise HeartbeatError("labels", f"has {sorted(extra)[0]!r}: only project, owner, job, "
                             "checkpoints are allowed")  # fmt: skip
    out = {k: _str(labels, k, f"labels.{k}", 256) for k in LABELS}
    checkpoints = labels.get("checkpoints")
    if checkpoints is not None and type(checkpoints) is not bool:
        raise HeartbeatError("labels.checkpoints", "must be true, false or null")
    out["checkpoints"] = checkpoints
    return out


def _window(payload: dict) -> tuple[datetime, datetime]:
    window = _object(payload.get("window"), "window")
    for key in ("start", "end", "samples"):
        if key not in window:
            raise HeartbeatError(f"window.{key}", "is required")
    start, end = _time(window["start"], "window.start"), _time(window["end"], "window.end")
    _int(window["samples"], "window.samples", 1, 3600)
    if end < start or end - start > timedelta(hours=1):
        raise HeartbeatError("window", "must end after it starts, within an hour")
    return start, end


def validate_batch(payload: Any) -> dict:
    """A parsed JSON body → the batch, normalised (times in UTC); HeartbeatError names what
    is wrong. The clock rules are ``check_clock``'s."""
    if type(payload) is not dict:
        raise HeartbeatError("(body)", "must be a JSON object")
    for key in ("schema", "batch_id", "node", "window", "gpus"):
        if key not in payload:
            raise HeartbeatError(key, "is required")
    if payload["schema"] != SCHEMA or type(payload["schema"]) is not str:
        raise HeartbeatError("schema", f"must be {SCHEMA!r}")
    batch_id = payload["batch_id"]
    if type(batch_id) is not str or not BATCH_ID.match(batch_id):
        raise HeartbeatError("batch_id", "must be 8-64 characters of A-Z a-z 0-9 _ . : -")
    if payload.get("sent_at") is not None:
        _time(payload["sent_at"], "sent_at")
    agent = _object(payload.get("agent"), "agent", nullable=True) or {}
    _str(agent, "version", "agent.version", 32)
    _int(agent.get("dropped_batches"), "agent.dropped_batches", 0, MAX_INT, nullable=True)
    node, labels = _node(payload), _labels(payload)
    progress = _int(payload.get("progress"), "progress", 0, MAX_INT, nullable=True)
    _, end = _window(payload)
    gpus = payload["gpus"]
    if type(gpus) is not list or len(gpus) > 64:
        raise HeartbeatError("gpus", "must be a list of at most 64 GPUs")
    clean, seen = [], set()
    for i, gpu in enumerate(gpus):
        one = _gpu(gpu, f"gpus[{i}]")
        if one["index"] in seen:
            raise HeartbeatError(f"gpus[{i}].index", f"GPU {one['index']} appears twice")
        seen.add(one["index"])
        clean.append(one)
    return {
        "batch_id": batch_id,
        "node": node,
        "labels": labels,
        "progress": progress,
        "end": end,
        "gpus": clean,
    }


def check_clock(batch: dict, now: datetime, max_age_hours: float, max_ahead_minutes: float) -> None:
    """A window that ended too long ago (a stale buffer, a clock far behind) or in the
    future (a clock ahead) is refused: it would freeze or garble the node's state."""
    end: datetime = batch["end"]
    ahead = (end - now).total_seconds()
    if ahead > max_ahead_minutes * 60:
        raise HeartbeatError(
            "window.end",
            f"is {_span(ahead)} after the server's time: the node's clock is {_span(ahead)} "
            "ahead; check NTP",
        )
    behind = -ahead
    if behind > max_age_hours * 3600:
        raise HeartbeatError(
            "window.end",
            f"is {_span(behind)} old; batches older than {max_age_hours:g} h are not stored "
            "(if the node's clock is behind, check NTP)",
        )


def _span(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "very far"
    if seconds >= 86_400 * 2:
        return f"{seconds / 86_400:,.0f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 60:.0f} minutes"
