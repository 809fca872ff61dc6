"""The detail rollups (detail_days, detail_months, resource_months) the use-case library
reads: what the loader writes from its batches equals a recomputation from the facts after
every write path (import, the same bytes again, a replaced delivery, a partial replacement,
sync windows, a rollback), and its measures add up to daily_keys'."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from finops_bot.errors import ImportRefused
from finops_bot.ingest.importer import import_file
from finops_bot.store import detail_reads as dr
from finops_bot.store import details
from finops_bot.store.reads import Where
from tests.conftest import NOW, charge, write_focus
from tests.finops_bot.ingest.test_extras import COMMITMENT_COLUMNS, _commitment_rows, _sync

COLUMNS = [*COMMITMENT_COLUMNS, "InvoiceId", "AvailabilityZone", "ChargeClass"]


def _detail_rows(db) -> list[tuple]:
    rows = db.execute("SELECT * FROM detail_days").fetchall()
    return sorted(
        (tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows), key=repr
    )


def _month_rows(db) -> list[tuple]:
    rows = db.execute("SELECT * FROM resource_months ORDER BY 1, 2, 3, 4, 5").fetchall()
    detail = db.execute("SELECT * FROM detail_months").fetchall()
    rounded = [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in detail]
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows] + sorted(
        rounded, key=repr
    )


def _assert_consistent(db) -> None:
    written, months = _detail_rows(db), _month_rows(db)
    conn = db.conn
    conn.execute("SAVEPOINT recompute")
    for load_id, first, last in conn.execute(
        "SELECT id, first_rowid, last_rowid FROM loads WHERE first_rowid IS NOT NULL"
    ).fetchall():
        keys = [
            k
            for (k,) in conn.execute(
                "SELECT DISTINCT key_id FROM daily_keys WHERE load_id = ?", (load_id,)
            )
        ]
        details.rebuild(conn, load_id, first, last, keys)
        details.rebuild_months(conn, load_id, first, last, keys)
    recomputed, months_recomputed = _detail_rows(db), _month_rows(db)
    conn.execute("ROLLBACK TO recompute")
    conn.execute("RELEASE recompute")
    assert written == recomputed
    assert months == months_recomputed
    quantities = (  # daily_keys' quantities are the facts'
        "SELECT l.id, c.key_id, c.day, ROUND(SUM(COALESCE(c.consumed_quantity, 0)), 6), "
        "ROUND(SUM(COALESCE(c.pricing_quantity, 0)), 6) FROM loads l JOIN charges c ON c.id "
        "BETWEEN l.first_rowid AND l.last_rowid GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    assert (
        db.execute(quantities).fetchall()
        == db.execute(
            "SELECT load_id, key_id, day, ROUND(consumed_quantity, 6), ROUND(pricing_quantity, 6) "
            "FROM daily_keys ORDER BY 1, 2, 3"
        ).fetchall()
    )


def _rows(day: str, used: float, unused: float, **kw) -> list[dict]:
    rows = _commitment_rows(day, used, unused, **kw)
    for i, row in enumerate(rows):
        row.update(InvoiceId=f"inv-{day[:7]}", AvailabilityZone=f"us-east-1{'ab'[i % 2]}")
    rows.append({**charge(day, 2.5), "ChargeClass": "Correction", "InvoiceId": "inv-x"})
    rows.append(charge(day, 1.25, hour=3))  # hourly rows roll up to the day
    rows.append(charge(day, 1.75, hour=4))
    return rows


def test_what_the_loader_writes_is_what_the_facts_say_on_every_path(db, rules, tmp_path):
    first = write_focus(tmp_path / "a.csv", _rows("2026-11-02", 1, 2), COLUMNS)
    import_file(db, first, rules=rules, now=NOW)
    _assert_consistent(db)
    zones = db.execute("SELECT DISTINCT availability_zone FROM detail_days ORDER BY 1").fetchall()
    assert zones == [("",), ("us-east-1a",), ("us-east-1b",)]
    import_file(db, first, rules=rules, now=NOW)  # the same bytes, then under another path
    shutil.copy(first, tmp_path / "copy.csv")
    import_file(db, tmp_path / "copy.csv", rules=rules, now=NOW)
    _assert_consistent(db)
    rows = _rows("2026-11-02", 3, 0) + _rows("2026-10-30", 1, 1)
    import_file(db, write_focus(tmp_path / "b.csv", rows, COLUMNS), rules=rules, now=NOW)
    _assert_consistent(db)
    nov = _rows("2026-11-03", 5, 5)  # November only: b's October rows stay
    import_file(db, write_focus(tmp_path / "c.csv", nov, COLUMNS), rules=rules, now=NOW)
    _assert_consistent(db)
    october = date(2026, 10, 30).toordinal() - date(1970, 1, 1).toordinal()
    assert db.execute("SELECT COUNT(*) FROM detail_days WHERE day = ?", (october,)).fetchone()[0]
    days = [_commitment_rows(f"2026-11-{d:02d}", 1, 1, provider="X") for d in (5, 6, 7)]
    _sync(db, rules, [r for day in days for r in day])
    _sync(db, rules, days[1], window=(date(2026, 11, 6), date(2026, 11, 7)))
    _assert_consistent(db)
    before = _detail_rows(db)
    bad = [*_rows("2026-11-09", 1, 1), {**charge("2026-11-09", 1), "BilledCost": "x"}]
    with pytest.raises(ImportRefused):
        import_file(
            db, write_focus(tmp_path / "bad.csv", bad, COLUMNS), rules=rules, now=NOW, strict=True
        )
    assert _detail_rows(db) == before
    _assert_months_read_as_days(db)


def _assert_months_read_as_days(db) -> None:
    """A whole month read from detail_months equals its days read from the three legs."""
    by = ("InvoiceId", "AvailabilityZone", "ChargeClass", "ServiceName", "BillingCurrency")
    ask = dr.Ask(by, ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"))
    nov, first_half, second_half = (
        dr.grouped(db, Where(), date(2026, 11, a), date(2026, 11, b), ask)
        for a, b in ((1, 30), (1, 4), (5, 30))
    )
    halves: dict[tuple, list[float]] = {}
    for row in first_half + second_half:
        sums = halves.setdefault(row[:5], [0.0] * 4)
        for i, v in enumerate(row[5:]):
            sums[i] += v or 0.0
    assert len(nov) > 3 and not dr.whole_months(db, date(2026, 11, 1), date(2026, 11, 4))
    assert {r[:5]: [round(v or 0.0, 6) for v in r[5:]] for r in nov} == {
        k: [round(v, 6) for v in sums] for k, sums in halves.items()
    }


def test_a_file_without_extras_writes_no_detail_rows(db, rules, tmp_path):
    rows = [charge("2026-11-02", 1.0), charge("2026-11-02", 2.0, resource="i-2")]
    import_file(db, write_focus(tmp_path / "plain.csv", rows), rules=rules, now=NOW)
    assert db.execute("SELECT COUNT(*) FROM detail_days").fetchone() == (0,)
    (row,) = db.execute("SELECT billed_cost, consumed_quantity FROM daily_keys").fetchall()
    assert row[0] == pytest.approx(3.0) and row[1] > 0
    _assert_consistent(db)
