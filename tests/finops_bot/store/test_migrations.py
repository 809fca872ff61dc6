"""m007 fills the per-GPU timers for a cache that already holds heartbeats."""

from __future__ import annotations

from sqlite_utils import Database

from finops_bot.store import connect
from finops_bot.store.schema import migrations


def test_m007_fills_the_timers_from_the_minutes(db_path):
    db = Database(db_path)
    migrations.apply(db, stop_before=["m007_gpu_timers", "m008_idle_cost_index"])
    latest = ["n1", "g0", "host"] + [None] * 10 + [0, None, "ok"] + [None] * 10
    latest += ["2026-11-22T06:05:00+00:00", "2026-11-22T06:05:00+00:00"]
    latest[12] = 7  # progress now
    db.execute(f"INSERT INTO gpu_latest VALUES ({','.join('?' * 28)})", latest)
    for minute, util, progress in [(1, 50, 5), (2, 0, 6), (3, 0, 7), (4, 0, 7), (5, 0, 7)]:
        db.execute(
            "INSERT INTO gpu_minutes (node, gpu, minute, util_max, progress) VALUES (?,?,?,?,?)",
            ("n1", "g0", f"2026-11-22T06:{minute:02d}", util, progress),
        )
    db.conn.commit()
    db.close()
    row = (
        connect(db_path)
        .execute("SELECT busy_minute, first_minute, progress_minute FROM gpu_latest")
        .fetchone()
    )
    assert row == ("2026-11-22T06:01", "2026-11-22T06:01", "2026-11-22T06:03")
