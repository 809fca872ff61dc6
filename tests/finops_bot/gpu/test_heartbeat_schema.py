"""The published JSON Schema is the source of truth: jsonschema is the oracle. Every batch
the schema accepts (within the server-only rules its description lists) is stored; every
mutant it refuses gets 400 from the hand-written validator. Bounded for CI (a few seconds)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_bot.gpu.batch import DATE_TIME, HeartbeatError, check_clock, validate_batch
from finops_bot.gpu.heartbeat import store_batches
from tests.handlers.test_heartbeats import good_batch

SCHEMA = json.loads((Path(__file__).parents[3] / "schema" / "heartbeat-v1.schema.json").read_text())
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    """RFC 3339, as the server reads it."""
    if not isinstance(value, str) or not DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


ORACLE = jsonschema.Draft202012Validator(SCHEMA, format_checker=FORMATS)
NOW = datetime(2026, 11, 22, 6, 1, tzinfo=UTC)
CHEAP = settings(
    max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def server_rules_hold(batch: dict) -> bool:
    """The cross-field rules the schema's description lists (not expressible in it)."""
    window = batch["window"]
    start = datetime.fromisoformat(window["start"].upper().replace("Z", "+00:00"))
    end = datetime.fromisoformat(window["end"].upper().replace("Z", "+00:00"))
    if not timedelta(0) <= end - start <= timedelta(hours=1):
        return False
    indexes = [g["index"] for g in batch["gpus"]]
    if len(set(indexes)) != len(indexes):
        return False
    for gpu in batch["gpus"]:
        for key in ("util", "mem_used_mb", "power_w", "temp_c"):
            stat = gpu.get(key)
            if stat and not stat["min"] <= stat["mean"] <= stat["max"]:
                return False
        used, total = gpu.get("mem_used_mb"), gpu.get("mem_total_mb")
        if used and total is not None and used["max"] > total:
            return False
    return True


def _valid_times(batch: dict) -> dict:
    """Put the window where the server's clock accepts it (its time rules are separate)."""
    batch = copy.deepcopy(batch)
    batch["window"]["start"] = "2026-11-22T06:00:00Z"
    batch["window"]["end"] = "2026-11-22T06:01:00Z"
    return batch


def _nullable(strategy):
    return st.none() | strategy


def _stat(low: float, high: float):
    return _nullable(
        st.lists(st.floats(low, high) | st.integers(int(low), int(high)), min_size=3, max_size=3)
        .map(sorted)
        .map(lambda v: {"min": v[0], "mean": v[1], "max": v[2]})
    )


NAME = st.text(min_size=1, max_size=20)
GPU = st.fixed_dictionaries(
    {"index": st.integers(0, 63), "state": st.sampled_from(["ok", "degraded", "error"])},
    optional={
        "uuid": _nullable(st.text(max_size=96)),
        "name": _nullable(st.text(max_size=128)),
        "error": _nullable(st.text(max_size=20)),
        "util": _stat(0, 100),
        "power_w": _stat(0, 2000),
        "temp_c": _stat(-20, 130),
        "mem_total_mb": _nullable(st.floats(0, 2**20) | st.integers(0, 2**20)),
        "processes": _nullable(
            st.lists(
                st.fixed_dictionaries(
                    {"pid": st.integers(0, 2**32 - 1)},
                    optional={"used_memory_mb": _nullable(st.floats(0, 2**20))},
                ),
                max_size=3,
            )
        ),
    },
)
VALID = st.fixed_dictionaries(
    {
        "schema": st.just("finops.heartbeat/v1"),
        "batch_id": st.from_regex(r"\A[A-Za-z0-9_.:-]{8,64}\Z"),
        "node": st.fixed_dictionaries(
            {"hostname": st.text(min_size=1, max_size=255)},
            optional={
                "provider": st.sampled_from(["aws", "gcp", "azure", None]),
                "instance_id": _nullable(st.text(max_size=512)),
                "instance_type": _nullable(NAME),
                "region": _nullable(NAME),
                "zone": _nullable(NAME),
                "spot": _nullable(st.booleans()),
            },
        ),
        "window": st.just({"start": "", "end": "", "samples": 1})
        | st.integers(1, 3600).map(lambda n: {"start": "", "end": "", "samples": n}),
        "gpus": st.lists(GPU, max_size=8, unique_by=lambda g: g["index"]),
    },
    optional={
        "labels": _nullable(
            st.fixed_dictionaries(
                {},
                optional={
                    "project": _nullable(NAME),
                    "owner": _nullable(NAME),
                    "job": _nullable(NAME),
                    "checkpoints": _nullable(st.booleans()),
                },
            )
        ),
        "progress": _nullable(st.integers(0, 2**63 - 1)),
        "agent": _nullable(st.fixed_dictionaries({}, optional={"version": st.text(max_size=32)})),
    },
)


@CHEAP
@given(VALID)
def test_every_schema_valid_batch_within_the_rules_is_stored(db, batch):
    batch = _valid_times(batch)
    assert ORACLE.is_valid(batch), list(ORACLE.iter_errors(batch))[:1]
    if not server_rules_hold(batch):
        with pytest.raises(HeartbeatError):
            validate_batch(batch)
        return
    clean = validate_batch(batch)
    check_clock(clean, NOW, 24, 5)
    with db.conn:  # every example as a fresh node's first batch
        db.conn.execute("DELETE FROM node_tokens")
    assert store_batches(db, [(1, clean)], NOW)[0] in (True, False)


MUTATIONS = [
    ("node", "provider", ["aws"]),
    ("node", "provider", {"x": 1}),
    ("gpus.0", "state", ["ok"]),
    ("gpus.0", "temp_c", {"min": 499, "mean": 499, "max": 499}),
    ("gpus.0", "power_w", {"min": 99_999, "mean": 99_999, "max": 99_999}),
    ("gpus.0", "mem_total_mb", 2**21),
    ("", "progress", 2**63),
    ("", "progress", 2**64 - 1),
    ("", "progress", True),
    ("", "progress", 1.5),
    ("labels", "checkpoints", "yes"),
    ("labels", "team", "nlp"),
    ("gpus.0", "index", 64),
    ("gpus.0", "processes", [{"pid": -1}]),
    ("window", "end", "2026-11-22 06:01:00+00:00"),
    ("window", "samples", 0),
    ("node", "hostname", ""),
    ("", "batch_id", "short"),
]


def _at(batch: dict, path: str) -> dict:
    target = batch
    for key in filter(None, path.split(".")):
        target = target[int(key)] if key.isdigit() else target[key]
    return target


@pytest.mark.parametrize(("path", "key", "value"), MUTATIONS)
def test_every_schema_invalid_mutant_is_refused(path, key, value):
    batch = copy.deepcopy(good_batch())
    _at(batch, path)[key] = value
    assert not ORACLE.is_valid(batch), (path, key, value)
    with pytest.raises(HeartbeatError):
        validate_batch(batch)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**65), 2**65) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
PATHS = [
    ("", "progress"), ("node", "provider"), ("node", "instance_id"), ("node", "spot"),
    ("labels", "project"), ("labels", "checkpoints"), ("window", "samples"),
    ("gpus.0", "index"), ("gpus.0", "state"), ("gpus.0", "util"), ("gpus.0", "temp_c"),
    ("gpus.0", "mem_total_mb"), ("gpus.0", "processes"), ("gpus.0", "uuid"), ("agent", "version"),
]  # fmt: skip


@CHEAP
@given(where=st.sampled_from(PATHS), value=JSON)
def test_the_validator_agrees_with_the_schema_on_any_field_value(where, value):
    path, key = where
    batch = copy.deepcopy(good_batch())
    _at(batch, path)[key] = value
    schema_ok = ORACLE.is_valid(batch) and server_rules_hold(batch)
    try:
        validate_batch(batch)
        ours = True
    except HeartbeatError:
        ours = False
    assert ours == schema_ok, (path, key, value)


def test_the_schema_lists_the_server_only_rules():
    description = SCHEMA["description"]
    for rule in ("min <= mean <= max", "mem_total_mb", "max_batch_age_hours", "max_clock_ahead"):
        assert rule in description
