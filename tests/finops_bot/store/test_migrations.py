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


def test_m009_splits_keys_by_billing_month_and_rebuilds_the_cube(db_path):
    from datetime import date

    from finops_bot.days import day_number
    from finops_bot.store import reads
    from finops_bot.store.reads import Where
    from finops_bot.store.schema import _M001_KEY_COLUMNS

    db = Database(db_path)
    migrations.apply(db, stop_before="m009_billing_periods_and_deliveries")
    key = dict.fromkeys(_M001_KEY_COLUMNS, "")
    key.update(provider="AWS", billing_account_id="999", service_name="AmazonEC2",
               charge_category="Usage", currency="USD", project="bert-training")  # fmt: skip
    db.execute(
        f"INSERT INTO charge_keys (id, {', '.join(key)}) VALUES (1, {','.join('?' * len(key))})",
        list(key.values()),
    )
    days = [day_number(date(2026, 10, 31)), day_number(date(2026, 11, 1))]
    db.execute(
        "INSERT INTO loads (id, source, path, first_rowid, last_rowid, rows, loaded_at) "
        "VALUES (1, 'file:/x.csv', '/x.csv', 1, 2, 2, '2026-11-22T06:00:00+00:00')"
    )
    db.execute(
        "INSERT INTO sources VALUES ('file:/x.csv', 'file', '2026-10-31', '2026-11-01', 2, "
        "'2026-11-22T06:00:00+00:00', NULL)"
    )
    for i, (day, cost) in enumerate(zip(days, (10.0, 5.0), strict=True), 1):
        db.execute(
            "INSERT INTO charges (id, day, key_id, billed_cost, effective_cost) "
            "VALUES (?, ?, 1, ?, ?)",
            (i, day, cost, cost),
        )
        db.execute("INSERT INTO daily_keys VALUES (1, ?, 1, ?, ?, 0)", (day, cost, cost))
        db.execute("INSERT INTO cube VALUES ('*', '*', ?, 'USD', 1, ?, ?, 0)", (day, cost, cost))
    db.conn.commit()
    db.close()
    migrated = connect(db_path)
    keys = migrated.execute("SELECT billing_period_start FROM charge_keys ORDER BY 1").fetchall()
    assert keys == [("2026-10-01",), ("2026-11-01",)]
    by_period = migrated.execute(
        "SELECT k.billing_period_start, SUM(c.billed_cost) FROM charges c "
        "JOIN charge_keys k ON k.id = c.key_id GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert by_period == [("2026-10-01", 10.0), ("2026-11-01", 5.0)]
    span = (date(2026, 10, 1), date(2026, 11, 30))
    usage = reads.totals(migrated, Where.of({"project": ["bert-training"]}), *span,
                         "EffectiveCost", categories=("Usage",))  # fmt: skip
    assert usage == {"USD": 15.0}
    assert reads.totals(migrated, Where.of({"service": ["AmazonEC2"]}), *span, "BilledCost") == {
        "USD": 15.0
    }
    assert migrated.execute("SELECT COUNT(*) FROM load_partitions").fetchone()[0] == 2


def _bad_heartbeat_rows(db) -> None:
    """Rows as the old endpoint stored a window in year 1 (strftime wrote '1-01-01')."""
    latest = ["i-bad", "g0", "host"] + [None] * 10 + [0, None, "ok"] + [None] * 10
    latest += ["1-01-01T00:01:00+00:00", "2026-11-22T06:05:00+00:00"]
    latest += [None, "1-01-01T00:01", "1-01-01T00:01"]  # the timers (m007)
    columns = len(db.execute("PRAGMA table_info(gpu_latest)").fetchall())
    latest += [None] * (columns - len(latest))  # the account (m016), when migrated that far
    db.execute(f"INSERT INTO gpu_latest VALUES ({','.join('?' * columns)})", latest)
    for minute in ("1-01-01T00:01", "9999-12-31T23:59", "2026-11-22T06:01"):
        db.execute(
            "INSERT INTO gpu_minutes (node, gpu, minute, util_max) VALUES ('i-bad', 'g0', ?, 0)",
            (minute,),
        )


def test_m010_quarantines_heartbeat_rows_out_of_range(db_path):
    db = Database(db_path)
    migrations.apply(db, stop_before="m010_heartbeat_quarantine_and_node_binding")
    _bad_heartbeat_rows(db)
    db.conn.commit()
    db.close()
    migrated = connect(db_path)
    assert migrated.execute("SELECT minute FROM gpu_minutes").fetchall() == [("2026-11-22T06:01",)]
    assert migrated.execute("SELECT COUNT(*) FROM gpu_latest").fetchone()[0] == 0
    kept = migrated.execute(
        "SELECT source, at FROM heartbeat_quarantine ORDER BY source, at"
    ).fetchall()
    assert kept == [
        ("gpu_latest", "1-01-01T00:01:00+00:00"),
        ("gpu_minutes", "1-01-01T00:01"),
        ("gpu_minutes", "9999-12-31T23:59"),
    ]


def test_readers_skip_a_bad_stored_row_and_retention_still_prunes(db_path):
    from datetime import UTC, datetime

    from finops_bot.gpu.fleet import fleet
    from finops_bot.gpu.heartbeat import prune

    db = connect(db_path)
    with db.conn:  # as if written behind the server's back
        _bad_heartbeat_rows(db)
    now = datetime(2026, 12, 20, tzinfo=UTC)
    assert fleet(db, now) == []  # skipped and logged, not raised
    assert prune(db, now, keep_days=14) == 3
