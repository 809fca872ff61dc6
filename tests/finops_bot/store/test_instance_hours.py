"""instance_hours (m023): the hourly billing rollup, through the real import path; daily
files write none; non-instance rows, Spot and the live-load join; heartbeat hours."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from finops_bot.days import day_number
from finops_bot.ingest.importer import import_file
from finops_bot.store import instance_hours
from finops_bot.store.chunk import BadRows, Chunk
from finops_bot.store.instance_hours import HourTracker
from finops_bot.store.rollups import delete_load
from finops_bot.store.schema import KEY_COLUMNS
from tests.conftest import FOCUS_COLUMNS, NOW, charge, write_focus
from tests.finops_bot.gpu.test_fleet import beat

COLUMNS = [*FOCUS_COLUMNS, "x_InstanceType", "ChargeDescription"]
P4D = 32.77
START = date(2026, 9, 1)


def gpu_row(day: str, hour: int | None, count: float, **kw) -> dict[str, str]:
    """``count`` p4d.24xlarge instances for the hour (or the day, ``hour`` None)."""
    hours = count if hour is not None else count * 24
    itype = kw.pop("itype", "p4d.24xlarge")
    row = charge(day, round(hours * P4D, 4), hour=hour, resource=kw.pop("resource", "i-p4d"), **kw)
    row.update(ConsumedQuantity=str(hours), ConsumedUnit="Hours", x_InstanceType=itype)
    return row


def trough_rows(days: int, day_count=8, night_count=2, hourly=True, start=START) -> list[dict]:
    """``day_count`` instances 06:00–20:00 UTC, ``night_count`` the other 10 hours."""
    rows = []
    for d in range(days):
        day = (start + timedelta(days=d)).isoformat()
        if not hourly:
            rows.append(gpu_row(day, None, (14 * day_count + 10 * night_count) / 24))
            continue
        for h in range(24):
            rows.append(gpu_row(day, h, day_count if 6 <= h < 20 else night_count))
    return rows


def import_rows(db, tmp_path, rows, rules, name="bill.csv"):
    path = write_focus(tmp_path / name, rows, COLUMNS)
    return import_file(db, path, rules=rules, now=NOW)


def test_an_hourly_focus_file_lands_in_instance_hours(db, tmp_path, rules):
    import_rows(db, tmp_path, trough_rows(3), rules)
    first = day_number(START)
    rows = instance_hours.hourly_usage(db, first, first + 2)
    assert len(rows) == 72
    assert {(r.provider, r.instance_type, r.pricing_category) for r in rows} == {
        ("AWS", "p4d.24xlarge", "Standard")
    }
    by_hour = {r.at: r.hours for r in rows}
    assert by_hour[first * 24 + 3] == 2 and by_hour[first * 24 + 12] == 8
    assert sum(r.cost for r in rows) == pytest.approx(3 * (14 * 8 + 10 * 2) * P4D)
    assert instance_hours.hourly_span(db) == (first * 24, (first + 3) * 24 - 1)


def test_a_daily_file_writes_nothing(db, tmp_path, rules):
    import_rows(db, tmp_path, trough_rows(5, hourly=False), rules)
    assert db.execute("SELECT COUNT(*) FROM instance_hours").fetchone() == (0,)
    daily = instance_hours.daily_usage(db, day_number(START), day_number(START) + 4)
    assert [round(r.hours / 8, 6) for r in daily] == [132.0] * 5  # GPU-hours ÷ 8 GPUs


def test_only_gpu_instance_hours_are_kept(db, tmp_path, rules):
    day = START.isoformat()
    cpu = charge(day, 1.0, hour=1, resource="i-cpu")
    cpu["x_InstanceType"] = "m5.xlarge"
    fee = gpu_row(day, 1, 3, category="Purchase")
    spot = gpu_row(day, 1, 4, pricing="Dynamic", resource="i-spot")
    storage = gpu_row(day, 1, 5, resource="vol-1")
    storage["ConsumedUnit"] = "GB-Mo"
    import_rows(db, tmp_path, [cpu, fee, spot, storage, gpu_row(day, 1, 2)], rules)
    rows = instance_hours.hourly_usage(db, day_number(START), day_number(START))
    assert sorted((r.pricing_category, r.hours) for r in rows) == [("Dynamic", 4), ("Standard", 2)]


def test_replaced_and_deleted_loads_leave_no_hours(db, tmp_path, rules):
    import_rows(db, tmp_path, trough_rows(2), rules)
    import_rows(db, tmp_path, trough_rows(2, day_count=6), rules)  # the same file, corrected
    rows = instance_hours.hourly_usage(db, day_number(START), day_number(START) + 1)
    assert max(r.hours for r in rows) == 6 and len(rows) == 48
    (load_id,) = db.execute("SELECT MAX(id) FROM loads").fetchone()
    with db.conn:
        delete_load(db.conn, load_id)
    assert instance_hours.hourly_usage(db, day_number(START), day_number(START) + 1) == []


def _chunk(starts, ends, quantities, key=None, gpu=None) -> Chunk:
    n = len(starts)
    key = key or tuple(
        {
            "charge_category": "Usage",
            "instance_type": "p4d.24xlarge",
            "gpu_model": "A100",
            "consumed_unit": "Hrs",
        }.get(c, "")
        for c in KEY_COLUMNS
    )
    from finops_bot.store.chunk import ChunkExtras

    starts = np.asarray(starts, np.int64)
    extras = None
    if ends is not None:
        extras = ChunkExtras(np.zeros(n, np.int64), [()], {}, np.asarray(ends, float), frozenset())
    zeros = np.zeros(n)
    return Chunk(
        rows_in=n,
        days=starts // 86400,
        starts=starts,
        key_codes=np.zeros(n, np.int64),
        key_tuples=[key],
        tag_codes=np.zeros(n, np.int64),
        tag_texts=[""],
        resource_id=np.array([None] * n, object),
        sku_id=np.array([None] * n, object),
        billed=np.ones(n),
        effective=np.ones(n),
        list_cost=zeros,
        consumed_quantity=np.asarray(quantities, float),
        pricing_quantity=zeros,
        subdaily=True,
        bad=BadRows(),
        gpu_hours=np.asarray(gpu if gpu is not None else np.asarray(quantities) * 8, float),
        extras=extras,
    )


def test_the_tracker_keeps_an_hour_or_less_and_sums_per_hour(db):
    """Rows of 15 minutes sum into their hour; a 2-hour row, a no-GPU-hours row (an
    EBSOptimized line naming the type) and rows outside the window are left out."""
    t = 20_000 * 86400
    tracker = HourTracker(window=(20_000, 20_000))
    starts = [t, t + 900, t + 1800, t + 2700, t + 7200, t + 3600, t + 86400]
    ends = [s + 900 for s in starts[:4]] + [t + 14400, t + 7200, t + 90000]
    gpu = [8, 8, 8, 8, 16, np.nan, 8]
    tracker.add(_chunk(starts, ends, [0.25] * 4 + [2, 1, 1], gpu=gpu), np.full(7, 1))
    db.execute("INSERT INTO loads (id, source, kind, loaded_at) VALUES (1, 's', 'file', 'x')")
    db.execute(
        f"INSERT INTO charge_keys (id, {', '.join(KEY_COLUMNS)}) VALUES (1, "
        + ",".join("?" * len(KEY_COLUMNS))
        + ")",
        _chunk([t], None, [1]).key_tuples[0],
    )
    with db.conn:
        tracker.write(db.conn, 1)
    assert db.execute("SELECT hour, usage_hours, cost FROM instance_hours").fetchall() == [
        (20_000 * 24, 1.0, 4.0)
    ]


def test_a_chunk_of_whole_days_adds_nothing():
    tracker = HourTracker()
    chunk = _chunk([0, 86400], None, [24, 24])
    chunk.subdaily = False
    tracker.add(chunk, np.array([1, 1]))
    assert not len(tracker._summary())


def test_heartbeat_hours_count_each_nodes_minutes(db):
    t0 = NOW.replace(hour=0)
    for m in range(90):  # node a: 60 minutes of hour 0, 30 of hour 1
        beat(db, m, [50.0] * 8, node="node-a", t0=t0)
    for m in range(20):
        beat(db, m, [50.0, 50.0], node="node-b", itype="g5.12xlarge", spot=True, t0=t0)
    rows = instance_hours.heartbeat_hours(db, day_number(NOW.date()), day_number(NOW.date()))
    got = sorted((r.node, r.hour % 24, r.minutes, r.instance_type, r.spot) for r in rows)
    assert got == [  # a batch's minute is the minute its window ends
        ("node-a", 0, 60, "p4d.24xlarge", False),
        ("node-a", 1, 30, "p4d.24xlarge", False),
        ("node-b", 0, 20, "g5.12xlarge", True),
    ]
    assert instance_hours.heartbeat_span(db)[0].startswith(NOW.date().isoformat())
