"""store_batches: one transaction per group, replays stored once, all or nothing."""

from __future__ import annotations

import sqlite3

import pytest

from finops_bot.gpu.heartbeat import store_batches, validate_batch
from finops_bot.store import connect
from tests.conftest import NOW
from tests.handlers.test_heartbeats import good_batch


def count(db, table: str) -> int:
    return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_a_group_is_stored_with_replays_once(db_path):
    db = connect(db_path)
    one, two = validate_batch(good_batch("batch-one")), validate_batch(good_batch("batch-two"))
    assert store_batches(db, [(1, one), (1, two), (1, one)], NOW) == [True, True, False]
    assert store_batches(db, [(1, two)], NOW) == [False]
    assert count(db, "heartbeat_batches") == 2 and count(db, "gpu_minutes") == 8


def test_a_failing_group_leaves_nothing(db_path):
    db = connect(db_path)
    broken = validate_batch(good_batch("batch-bad"))
    del broken["gpus"][3]["util"]
    with pytest.raises(KeyError):
        store_batches(db, [(1, validate_batch(good_batch("batch-ok"))), (1, broken)], NOW)
    assert count(db, "heartbeat_batches") == 0 and count(db, "gpu_latest") == 0


def test_a_locked_cache_fails_before_writing(db_path):
    db = connect(db_path)
    db.execute("PRAGMA busy_timeout=0")
    blocker = sqlite3.connect(db_path)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        store_batches(db, [(1, validate_batch(good_batch()))], NOW)
    blocker.rollback()
    assert store_batches(db, [(1, validate_batch(good_batch()))], NOW) == [True]


def test_prune_walks_old_minutes_in_chunks_and_keeps_the_rest(db_path):
    from datetime import timedelta

    from finops_bot.gpu.heartbeat import prune

    db = connect(db_path)
    rows = [
        ("n", "g", (NOW - timedelta(days=15, minutes=m)).strftime("%Y-%m-%dT%H:%M"))
        for m in range(90)
    ]
    rows += [
        ("n", "g", (NOW - timedelta(days=1, minutes=m)).strftime("%Y-%m-%dT%H:%M"))
        for m in range(5)
    ]
    with db.conn:
        db.conn.executemany("INSERT INTO gpu_minutes (node, gpu, minute) VALUES (?,?,?)", rows)
        db.execute(
            "INSERT INTO heartbeat_batches VALUES ('old-batch-1', 1, 'n', ?)",
            ((NOW - timedelta(days=20)).isoformat(),),
        )
    assert prune(db, NOW, keep_days=14, chunk_minutes=7) == 90
    assert count(db, "gpu_minutes") == 5 and count(db, "heartbeat_batches") == 0
