"""The cache itself: migrations, WAL, window replacement (used by syncs), the FOCUS view."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from finops_bot.errors import FinopsError
from finops_bot.ingest.importer import load_batches
from finops_bot.ingest.normalize import FOCUS_FIELDS
from finops_bot.store import connect
from finops_bot.store.charges import ChargeLoader
from finops_bot.store.schema import migrations
from tests.conftest import NOW, charge


def _batch(rows):
    return pa.RecordBatch.from_pylist(rows)


FIELD_OF = {name: f for f, name in FOCUS_FIELDS.items()}


def test_connect_twice_applies_migrations_once_with_wal(db_path):
    first = connect(db_path)
    second = connect(db_path)
    assert second.journal_mode == "wal"
    assert [m.name for m in migrations.applied(second)] == [
        "m001_billing_cache",
        "m002_source_status",
        "m003_export_files",
        "m004_prices_and_accounts",
        "m005_gpu_fleet",
        "m006_resource_allocation",
        "m007_gpu_timers",
        "m008_idle_cost_index",
        "m009_billing_periods_and_deliveries",
        "m010_heartbeat_quarantine_and_node_binding",
        "m011_appended_deliveries",
        "m012_gpu_charges_and_tag_dimensions",
        "m013_anomalies",
        "m014_digest_ledger",
        "m015_digest_mutes",
        "m016_remediation",
        "m017_checkpoints",
        "m018_budget_crossings",
        "m019_gpu_node_days",
        "m020_charge_extras",
        "m021_commitments",
        "m022_detail_days",
        "m023_instance_hours",
        "m024_minute_jobs",
        "m025_resource_months",
        "m026_detail_months",
    ]
    assert not migrations.pending(second)
    first.close()
    second.close()


def test_connect_refuses_what_is_not_a_cache(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(FinopsError, match="not a finops-bot cache"):
        connect(junk)
    with pytest.raises(FinopsError, match="does not exist"):
        connect(tmp_path / "missing" / "x.db")


def test_window_replaces_only_those_days(db, rules):
    rows = [charge(f"2026-11-{d:02d}", 10, resource=f"r{d}") for d in range(1, 11)]
    load_batches(db, [_batch(rows)], FIELD_OF, source="aws-ce", kind="sync", rules=rules, now=NOW)
    restated = [charge(f"2026-11-{d:02d}", 12, resource=f"r{d}") for d in range(6, 12)]
    with ChargeLoader(
        db, "aws-ce", kind="sync", now=NOW, window=(date(2026, 11, 6), date(2026, 11, 10))
    ) as loader:
        from finops_bot.ingest.normalize import normalize

        batch = _batch(restated)
        cols = {FIELD_OF[c]: batch.column(i) for i, c in enumerate(batch.schema.names)}
        loader.add(normalize(cols, batch.num_rows, rules=rules, first_row_number=1))
    assert loader.result.outside_window == 1  # the 11th is outside the window
    by_day = dict(
        db.execute("SELECT ChargeDay, SUM(BilledCost) FROM focus_charges GROUP BY 1").fetchall()
    )
    assert by_day == {f"2026-11-{d:02d}": (10.0 if d <= 5 else 12.0) for d in range(1, 11)}
    cube = db.execute("SELECT SUM(billed_cost) FROM cube WHERE dim = '*'").fetchone()[0]
    assert cube == 5 * 10 + 5 * 12
    assert db.execute("SELECT rows, first_day, last_day FROM sources").fetchone() == (
        10,
        "2026-11-01",
        "2026-11-10",
    )
    # the same window again: same result (idempotent)
    with ChargeLoader(
        db, "aws-ce", kind="sync", now=NOW, window=(date(2026, 11, 6), date(2026, 11, 10))
    ) as loader:
        loader.add(normalize(cols, batch.num_rows, rules=rules, first_row_number=1))
    assert db.execute("SELECT SUM(billed_cost) FROM charges").fetchone()[0] == 110.0


def test_sources_are_independent(db, rules):
    load_batches(
        db,
        [_batch([charge("2026-11-01", 1)])],
        FIELD_OF,
        source="a",
        kind="x",
        rules=rules,
        now=NOW,
    )
    load_batches(
        db,
        [_batch([charge("2026-11-01", 2)])],
        FIELD_OF,
        source="b",
        kind="x",
        rules=rules,
        now=NOW,
    )
    load_batches(
        db,
        [_batch([charge("2026-11-02", 4)])],
        FIELD_OF,
        source="a",
        kind="x",
        rules=rules,
        now=NOW,
    )
    assert db.execute("SELECT SUM(billed_cost) FROM charges").fetchone()[0] == 6
    assert db.execute("SELECT name, rows FROM sources ORDER BY name").fetchall() == [
        ("a", 1),
        ("b", 1),
    ]


def test_focus_view_gives_the_columns_back(db, rules):
    load_batches(
        db,
        [_batch([charge("2026-11-01", 3, pricing="Dynamic")])],
        FIELD_OF,
        source="a",
        kind="x",
        rules=rules,
        now=NOW,
    )
    row = db.execute(
        "SELECT ProviderName, ServiceName, PricingCategory, BillingCurrency, BilledCost, "
        "ResourceId, SkuId, ConsumedQuantity, ConsumedUnit, project FROM focus_charges"
    ).fetchone()
    assert row == (
        "AWS",
        "Amazon Elastic Compute Cloud",
        "Dynamic",
        "USD",
        3.0,
        "i-1",
        "sku-1",
        24.0,
        "Hours",
        "bert-training",
    )
