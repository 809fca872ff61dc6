"""gpu_node_days, the rollup the live estimate reads: after every kind of write (one batch,
a replay, overlapping and out-of-order batches, relabelling, a new GPU, retention, the
migration's backfill) it equals a count made straight from gpu_minutes by burn.py's rule:
the node's counting GPU (seen last, lowest index) × its GPUs, split by the minutes' labels."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlite_utils import Database

from finops_bot.gpu.burn import live_estimate
from finops_bot.gpu.heartbeat import prune, rebuild_node_days, store_batches, validate_batch
from finops_bot.gpu.prices import PriceBook
from finops_bot.store import connect
from finops_bot.store.schema import migrations
from tests.finops_bot.gpu.test_fleet import T0, minutes

P4D = 32.77  # bundled on-demand $/h, 8 GPUs


def rollup(db) -> dict[tuple[str, str, str, str], tuple[int, int]]:
    rows = db.execute("SELECT node, day, project, owner, gpus, minutes FROM gpu_node_days")
    return {(n, d, p, o): (g, m) for n, d, p, o, g, m in rows}


def direct(db) -> dict[tuple[str, str, str, str], tuple[int, int]]:
    """The count from gpu_minutes itself, in Python: no SQL shared with the code under test."""
    latest: dict[str, list[tuple[str, int, str]]] = {}
    for node, gpu, index, end in db.execute(
        "SELECT node, gpu, gpu_index, window_end FROM gpu_latest"
    ):
        latest.setdefault(node, []).append((end, index, gpu))
    counting = {
        node: (max(rows, key=lambda r: (r[0], -r[1]))[2], len(rows))
        for node, rows in latest.items()
    }
    out: dict[tuple[str, str, str, str], list[int]] = {}
    for node, gpu, minute, project, owner in db.execute(
        "SELECT node, gpu, minute, project, owner FROM gpu_minutes"
    ):
        if node not in counting or counting[node][0] != gpu:
            continue
        key = (node, minute[:10], project or "", owner or "")
        out.setdefault(key, [counting[node][1], 0])[1] += 1
    return {key: (gpus, count) for key, (gpus, count) in out.items()}


def same(db) -> dict:
    got = rollup(db)
    assert got == direct(db)
    return got


def batch(minute: int, node="i-0abc", gpus=8, batch_id=None, project="a", owner="alice", t0=T0,
          uuids=None):  # fmt: skip
    end = t0 + timedelta(minutes=minute)
    return validate_batch(
        {
            "schema": "finops.heartbeat/v1",
            "batch_id": batch_id or f"{node}-{end:%Y%m%d%H%M}",
            "node": {"hostname": node, "provider": "aws", "instance_id": node,
                     "instance_type": "p4d.24xlarge", "region": None, "spot": False},
            "labels": {"project": project, "owner": owner},
            "window": {"start": (end - timedelta(minutes=1)).isoformat(),
                       "end": end.isoformat(), "samples": 6},
            "gpus": [{"index": i, "uuid": f"{uuids or node}-gpu{i}", "state": "ok",
                      "util": {"min": 50, "mean": 50, "max": 50}, "processes": []}
                     for i in range(gpus)],
        }
    )  # fmt: skip


def store(db, *batches) -> list:
    return store_batches(db, [(1, b) for b in batches], T0 + timedelta(hours=1))


def test_one_batch(db):
    assert store(db, batch(0)) == [True]
    assert same(db) == {("i-0abc", "2026-11-22", "a", "alice"): (8, 1)}


def test_the_same_batch_twice_and_a_minute_sent_again(db):
    assert store(db, batch(0), batch(0)) == [True, False]  # a replay within one commit
    assert store(db, batch(0)) == [False]  # and a later one
    assert store(db, batch(0, batch_id="resent-0000")) == [True]  # same minute, new id
    assert same(db) == {("i-0abc", "2026-11-22", "a", "alice"): (8, 1)}


def test_overlapping_batches_count_each_minute_once(db):
    store(db, *(batch(m) for m in range(10)))
    store(db, *(batch(m, batch_id=f"again-{m:04d}") for m in range(5, 15)))
    assert same(db) == {("i-0abc", "2026-11-22", "a", "alice"): (8, 15)}


def test_a_minute_replaced_with_other_labels_moves_between_projects(db):
    store(db, *(batch(m) for m in range(10)))
    store(db, batch(3, batch_id="relabel-3", project="b"))
    assert same(db) == {
        ("i-0abc", "2026-11-22", "a", "alice"): (8, 9),
        ("i-0abc", "2026-11-22", "b", "alice"): (8, 1),
    }


def test_labels_that_change_within_a_day(db):
    minutes(db, 0, 10, [50.0] * 8, project="a")
    minutes(db, 10, 15, [50.0] * 8, project="b", owner="bob")
    minutes(db, 15, 20, [50.0] * 8, project="a")
    minutes(db, 20, 22, [50.0] * 8, project=None, owner=None)
    assert same(db) == {
        ("i-0abc", "2026-11-22", "a", "alice"): (8, 15),
        ("i-0abc", "2026-11-22", "b", "bob"): (8, 5),
        ("i-0abc", "2026-11-22", "", ""): (8, 2),
    }


def test_days_out_of_order_and_across_midnight(db):
    late = T0.replace(hour=23, minute=58)
    store(db, *(batch(m, t0=late) for m in range(4)))  # 23:58 .. 00:01
    store(db, *(batch(m, t0=T0 - timedelta(days=1)) for m in range(3)))  # an agent's buffer
    assert same(db) == {
        ("i-0abc", "2026-11-21", "a", "alice"): (8, 3),
        ("i-0abc", "2026-11-22", "a", "alice"): (8, 2),
        ("i-0abc", "2026-11-23", "a", "alice"): (8, 2),
    }


def test_many_nodes_in_one_commit(db):
    store(db, *(batch(m, node=f"n{i}", gpus=1 + i % 3) for i in range(6) for m in range(4)))
    got = same(db)
    assert {key[0]: value for key, value in got.items()} == {
        f"n{i}": (1 + i % 3, 4) for i in range(6)
    }


def test_new_gpus_recount_all_the_nodes_days(db):
    store(db, *(batch(m, t0=T0 - timedelta(days=1)) for m in range(5)))
    store(db, *(batch(m) for m in range(5)))
    assert same(db)[("i-0abc", "2026-11-21", "a", "alice")] == (8, 5)
    store(db, batch(5, uuids="swapped"))  # 8 GPUs it never reported: one more row each
    # burn.py's rule, on every day: the counting GPU is now swapped-gpu0 (seen last) and the
    # node has 16 gpu_latest rows, so the days before the swap count nothing
    assert same(db) == {("i-0abc", "2026-11-22", "a", "alice"): (16, 1)}
    store(db, batch(6))  # the old GPUs again: the counting GPU is i-0abc-gpu0 once more
    assert same(db) == {
        ("i-0abc", "2026-11-21", "a", "alice"): (16, 5),
        ("i-0abc", "2026-11-22", "a", "alice"): (16, 6),
    }


def test_retention_drops_the_days_without_minutes_and_recounts_the_cutoff_day(db):
    for day in range(4):  # 20 minutes a day, 06:00-06:19, on Nov 19..22
        store(db, *(batch(m, t0=T0 - timedelta(days=3 - day)) for m in range(20)))
    store(db, *(batch(m, node="i-gone", t0=T0 - timedelta(days=3)) for m in range(3)))
    now = T0 - timedelta(days=1) + timedelta(minutes=10)  # a cutoff at Nov 20 06:10 - 1 day
    prune(db, now + timedelta(days=1), keep_days=2, chunk_minutes=7)
    got = same(db)
    assert got == {
        ("i-0abc", "2026-11-20", "a", "alice"): (8, 10),
        ("i-0abc", "2026-11-21", "a", "alice"): (8, 20),
        ("i-0abc", "2026-11-22", "a", "alice"): (8, 20),
    }
    prune(db, T0 + timedelta(days=30))  # everything goes, i-0abc's gpu_latest with it
    assert same(db) == {}


def test_retention_of_a_decommissioned_node_keeps_no_days(db):
    store(db, *(batch(m) for m in range(3)))
    with db.conn:  # its state ages past the retention while minutes remain
        db.execute("UPDATE gpu_latest SET received_at = '2026-01-01T00:00:00+00:00'")
    prune(db, T0 + timedelta(days=1))
    assert db.execute("SELECT COUNT(*) FROM gpu_minutes").fetchone()[0] == 24
    assert same(db) == {}


def test_rebuild_equals_what_ingest_kept(db):
    minutes(db, 0, 10, [50.0] * 8, project="a")
    minutes(db, 10, 15, [50.0] * 8, project="b")
    minutes(db, 0, 6, [50.0] * 4, node="i-four")
    kept = same(db)
    with db.conn:
        db.execute("DELETE FROM gpu_node_days")
    rebuild_node_days(db)
    assert rollup(db) == kept


MINUTE_COLUMNS = (  # gpu_minutes as m018 left it (m024 adds the job)
    "node, gpu, minute, util_min, util_mean, util_max, mem_used_mb, power_w, processes, "
    "process_mem_mb, progress, project, owner"
)


def test_the_migration_fills_the_rollup_from_minutes_written_before_it(db_path, tmp_path):
    written = connect(tmp_path / "written.db")  # the same minutes, through store_batches
    minutes(written, 0, 10, [50.0] * 8, project="a")
    minutes(written, 10, 15, [50.0] * 8, project="b", owner=None)
    minutes(written, 0, 6, [50.0] * 4, node="i-four", t0=T0 - timedelta(days=1))
    latest = written.execute("SELECT * FROM gpu_latest").fetchall()
    rows = written.execute(f"SELECT {MINUTE_COLUMNS} FROM gpu_minutes").fetchall()
    old = Database(db_path)
    migrations.apply(old, stop_before="m019_gpu_node_days")
    with old.conn:  # a cache as m018 left it
        marks = ",".join("?" * len(latest[0]))
        old.conn.executemany(f"INSERT INTO gpu_latest VALUES ({marks})", latest)
        old.conn.executemany(
            f"INSERT INTO gpu_minutes ({MINUTE_COLUMNS}) VALUES ({','.join('?' * 13)})", rows
        )
        old.execute(  # a minute no clock could give (m010 quarantines them) is not counted
            "INSERT INTO gpu_minutes (node, gpu, minute) VALUES ('i-0abc', 'i-0abc-gpu0', "
            "'1-01-01T00:01')"
        )
    old.close()
    migrated = connect(db_path)
    with migrated.conn:
        migrated.execute("DELETE FROM gpu_minutes WHERE minute < '2000'")
    assert same(migrated) == rollup(written)
    assert len(rollup(written)) == 3


def test_the_estimate_reads_the_rollup(db):
    minutes(db, 0, 30, [50.0] * 8)
    day = T0.date()
    est = live_estimate(db, PriceBook(), day, day, T0 + timedelta(hours=1))
    assert est.total == pytest.approx(P4D * 30 / 60)
    with db.conn:  # the counts come from gpu_node_days, not the minutes
        db.execute("UPDATE gpu_node_days SET minutes = 60")
    est = live_estimate(db, PriceBook(), day, day, T0 + timedelta(hours=1))
    assert est.total == pytest.approx(P4D)
    with db.conn:
        db.execute("DELETE FROM gpu_node_days")
    assert live_estimate(db, PriceBook(), day, day, T0 + timedelta(hours=1)) is None


def test_the_estimate_stops_at_now_within_a_rolled_up_day(db):
    minutes(db, 0, 30, [50.0] * 8, project="a")
    minutes(db, 30, 50, [50.0] * 8, project="b")
    now = T0 + timedelta(minutes=39)  # 06:00-06:39 count: 30 of a, 10 of b
    est = live_estimate(db, PriceBook(), date(2026, 11, 22), date(2026, 11, 22), now)
    assert dict(est.by_project) == pytest.approx({"a": P4D * 30 / 60, "b": P4D * 10 / 60})
    assert live_estimate(db, PriceBook(), T0.date(), T0.date(), T0 - timedelta(minutes=1)) is None
    later = live_estimate(db, PriceBook(), T0.date(), T0.date(), datetime(2026, 11, 23, tzinfo=UTC))
    assert later.total == pytest.approx(P4D * 50 / 60)
