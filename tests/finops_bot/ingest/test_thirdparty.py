"""Imports of files shaped like real third-party exports (tests/thirdparty.py): FOCUS 1.2
and 1.3 from AWS, Azure and GCP in two CSV dialects and Parquet, nulls wherever optional
columns allow them, every total recomputed independently of the importer."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bot.cli import main
from finops_bot.errors import ImportRefused
from finops_bot.ingest.files import open_billing_file
from finops_bot.ingest.importer import file_columns, import_file
from finops_bot.store import reads
from finops_bot.store.commitments import commitments
from finops_bot.store.reads import Where
from tests import thirdparty as tp
from tests.conftest import NOW

MAY = (tp.PERIOD.date(), tp.NEXT_PERIOD.date())


def _cache(db, column: str, sql: str = "1", params: tuple = ()) -> float:
    return db.execute(
        f"SELECT COALESCE(SUM(c.{column}), 0) FROM charges c JOIN charge_keys k "
        f"ON k.id = c.key_id WHERE {sql}",
        params,
    ).fetchone()[0]


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_minimal_dialect_imports_every_row_with_exact_totals(db, rules, tmp_path, cloud, version):
    rows = tp.minimal_rows(cloud, version=version)
    path = tp.write_minimal(tmp_path / f"{cloud}-{version}.csv", rows, version)
    report = import_file(db, path, rules=rules, now=NOW)
    r = report.result
    assert report.what == f"FOCUS {version}"
    assert (r.rows_read, r.bad.count, r.nulled) == (len(rows), 0, {})
    for column, measure in (("billed_cost", "BilledCost"), ("effective_cost", "EffectiveCost")):
        assert _cache(db, column) == pytest.approx(tp.total(rows, measure), abs=1e-6)
        for category in ("Usage", "Tax", "Purchase"):
            expected = tp.total(rows, measure, ChargeCategory=category)
            got = _cache(db, column, "k.charge_category = ?", (category,))
            assert got == pytest.approx(expected, abs=1e-6)
    # the cube and the facts agree, per service and per category
    for service in {row["ServiceName"] for row in rows}:
        expected = tp.total(rows, "EffectiveCost", ServiceName=service)
        got = reads.totals(db, Where.of({"service": [service]}), *MAY, "EffectiveCost")
        assert got.get("USD", 0.0) == pytest.approx(expected, abs=1e-6)
    usage = reads.totals(db, Where(), *MAY, "EffectiveCost", categories=("Usage",))
    assert usage["USD"] == pytest.approx(
        tp.total(rows, "EffectiveCost", ChargeCategory="Usage"), abs=1e-6
    )
    # the billing period is stored, and tax rows without a resource kept their tags
    assert db.execute("SELECT DISTINCT billing_period_start FROM charge_keys").fetchall() == [
        ("2026-05-01",)
    ]
    assert db.execute(
        "SELECT COUNT(*) FROM charge_keys WHERE charge_category = 'Tax' AND owner != ''"
    ).fetchone()[0]


def test_allocated_tags_win_over_tags_and_both_are_kept(db, rules, tmp_path):
    rows = tp.minimal_rows("aws", version="1.3")
    split = [r for r in rows if r.get("AllocatedTags")]
    assert split
    import_file(db, tp.write_minimal(tmp_path / "a.csv", rows), rules=rules, now=NOW)
    expected = tp.total(split, "EffectiveCost")
    got = reads.totals(db, Where.of({"project": ["search-api"]}), *MAY, "EffectiveCost")
    assert got["USD"] == pytest.approx(expected, abs=1e-6)
    kept = db.execute(
        "SELECT t.tags FROM charges c JOIN charge_keys k ON k.id = c.key_id "
        "JOIN tag_sets t ON t.id = c.tags_id WHERE k.project = 'search-api' LIMIT 1"
    ).fetchone()[0]
    tags = json.loads(kept)
    assert tags["workload"] == "search" and tags["CostCenter"] == "cc-9999"
    assert "origin:CostCenter" in tags  # the origin charge's value is kept too


def test_quoted_dialect_with_null_tokens_four_providers(db, rules, tmp_path):
    rows = tp.quoted_rows()
    path = tp.write_quoted(tmp_path / "q.csv", rows)
    report = import_file(db, path, rules=rules, now=NOW)
    assert report.what == "FOCUS 1.3"
    assert (report.result.rows_read, report.result.bad.count) == (len(rows), 0)
    sep = (tp.datetime(2024, 9, 1).date(), tp.datetime(2024, 10, 1).date())
    for provider in ("AWS", "Microsoft", "Google", "Oracle"):
        expected = tp.total(rows, "BilledCost", ProviderName=provider)
        got = reads.totals(db, Where.of({"provider": [provider]}), *sep, "BilledCost")
        assert got["USD"] == pytest.approx(expected, abs=1e-6)
    for category in ("Adjustment", "Credit", "Tax"):
        assert _cache(db, "billed_cost", "k.charge_category = ?", (category,)) == pytest.approx(
            tp.total(rows, "BilledCost", ChargeCategory=category), abs=1e-6
        )


def test_parquet_with_empty_string_quantities_loses_no_row(db, rules, tmp_path):
    rows = tp.minimal_rows("gcp", n=300)
    columns = tp.V12 + tp.V13_EXTRA
    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
    # a pure-FOCUS file whose optional PricingQuantity is '' (not null) on every row
    table = table.set_column(
        columns.index("PricingQuantity"), "PricingQuantity", pa.array([""] * len(rows))
    )
    path = tmp_path / "empty-quantity.parquet"
    pq.write_table(table, path)
    r = import_file(db, path, rules=rules, now=NOW).result
    assert (r.rows_read, r.bad.count) == (len(rows), 0)
    assert r.nulled["PricingQuantity"].count == len(rows)
    assert _cache(db, "billed_cost") == pytest.approx(tp.total(rows, "BilledCost"), abs=1e-6)
    assert (
        db.execute("SELECT COUNT(*) FROM charges WHERE pricing_quantity IS NOT NULL").fetchone()[0]
        == 0
    )


# the FOCUS 1.4 datasets that hold no costs: a header and one row each
OTHER_DATASETS = {
    "Billing Period": "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,"
    "BillingPeriodStatus\nacct-1,2026-05-01T00:00:00Z,2026-06-01T00:00:00Z,Closed\n",
    "Invoice Detail": "InvoiceDetailId,InvoiceId,BillingCurrency,InvoiceIssuerName\n"
    "inv-1-1,inv-1,USD,AWS\n",
}


def write_other_dataset(path, name: str):
    path.write_text(OTHER_DATASETS[name], encoding="utf-8")
    return path


def test_contract_commitment_file_is_imported_the_other_datasets_refused(db, rules, tmp_path):
    path = tp.write_contract_commitment(tmp_path / "cc.csv")
    report = import_file(db, path, rules=rules, now=NOW)
    assert (report.what, report.rows_stored, report.bad.count) == (
        "FOCUS 1.3 Contract Commitment",
        1,
        0,
    )
    (stored,) = commitments(db)
    assert (stored.id, stored.contract_id, stored.category, stored.cost, stored.currency) == (
        "CC-EA-SPEND-0001",
        "CONTRACT-EA-2026-0001",
        "Spend",
        250000.0,
        "USD",
    )
    assert (stored.period_start, stored.period_end) == ("2026-01-01", "2027-01-01")
    assert db.execute("SELECT COUNT(*) FROM charges").fetchone()[0] == 0
    # a sync reads cost files only: it still refuses one, in one line
    with pytest.raises(ImportRefused, match="FOCUS Contract Commitment file") as refused:
        file_columns(open_billing_file(path))
    assert "\n" not in str(refused.value) and "python -m bot import" in str(refused.value)
    for name in OTHER_DATASETS:
        other = write_other_dataset(tmp_path / f"{name}.csv", name)
        with pytest.raises(ImportRefused, match=f"FOCUS {name} file") as refused:
            import_file(db, other, rules=rules, now=NOW)
        assert "\n" not in str(refused.value)


def test_exit_codes_all_some_none(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FINOPS_BOT_DB", raising=False)
    db = str(tmp_path / "c.db")
    good = tp.write_minimal(tmp_path / "good.csv", tp.minimal_rows("aws", n=50))
    rows = tp.minimal_rows("azure", n=50)
    rows[3]["BilledCost"] = "not-a-number"
    bad_row = tp.write_minimal(tmp_path / "bad-row.csv", rows)
    refused = write_other_dataset(tmp_path / "bp.csv", "Billing Period")
    commitment = tp.write_contract_commitment(tmp_path / "cc.csv")
    assert main(["import", str(good), "--db", db, "--no-progress"]) == 0
    assert main(["import", str(good), str(commitment), "--db", db, "--no-progress"]) == 0
    assert main(["import", str(bad_row), "--db", db, "--no-progress"]) == 3
    assert main(["import", str(good), str(refused), "--db", db, "--no-progress"]) == 3
    assert main(["import", str(refused), "--db", db, "--no-progress"]) == 1
    out = capsys.readouterr()
    assert "rows refused" in out.out and "BilledCost is not a number" in out.out
    assert "FOCUS Billing Period file" in out.err and "Imported 1 commitment (" in out.out


def test_an_unreadable_optional_field_is_reported_and_exit_0(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FINOPS_BOT_DB", raising=False)
    rows = tp.minimal_rows("aws", n=40)
    rows[5]["ListCost"] = "n/a"
    path = tp.write_minimal(tmp_path / "list.csv", rows)
    assert main(["import", str(path), "--db", str(tmp_path / "c.db"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "ListCost unreadable in 1 row(s): stored empty, the rows kept (row 6:" in out
