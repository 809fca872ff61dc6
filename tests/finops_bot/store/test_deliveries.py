"""Deliveries: the same charges in other bytes never double, parts of one delivery are
kept together, a restated period replaces only itself, sync sources are not collided with,
Azure actual and amortised exports merge."""

from __future__ import annotations

import gzip
import shutil
from datetime import date

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from bot.cli import main
from finops_bot.errors import ImportRefused
from finops_bot.ingest.importer import import_file, load_columns, new_delivery
from finops_bot.sources.base import focus_columns
from tests import thirdparty as tp
from tests.conftest import NOW, charge, write_focus


def _billed(db, sql: str = "1", params: tuple = ()) -> float:
    return db.execute(
        "SELECT COALESCE(SUM(c.billed_cost), 0) FROM charges c JOIN charge_keys k "
        f"ON k.id = c.key_id WHERE {sql}",
        params,
    ).fetchone()[0]


def _export(tmp_path, name="export.csv", cloud="aws"):
    rows = tp.minimal_rows(cloud, n=120)
    return rows, tp.write_minimal(tmp_path / name, rows)


def test_a_csv_and_its_gzip_never_double(db, rules, tmp_path):
    rows, path = _export(tmp_path)
    gz = tmp_path / "export.csv.gz"
    with path.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    import_file(db, path, rules=rules, now=NOW)
    report = import_file(db, gz, rules=rules, now=NOW)
    assert report.result.rows_replaced > 0
    assert _billed(db) == pytest.approx(tp.total(rows, "BilledCost"), abs=1e-6)
    assert db.execute("SELECT COUNT(*) FROM loads").fetchone()[0] == 1


def test_csv_and_parquet_of_one_export_never_double(db, rules, tmp_path):
    rows, path = _export(tmp_path)
    parquet = tmp_path / "export.parquet"
    pq.write_table(pacsv.read_csv(path), parquet)
    import_file(db, parquet, rules=rules, now=NOW)
    import_file(db, path, rules=rules, now=NOW)
    assert _billed(db) == pytest.approx(tp.total(rows, "BilledCost"), abs=1e-6)


def test_the_same_charges_twice_in_one_command_are_refused(db, rules, tmp_path):
    rows, path = _export(tmp_path)
    copy = tmp_path / "export.parquet"
    pq.write_table(pacsv.read_csv(path), copy)
    delivery = new_delivery()
    import_file(db, path, rules=rules, now=NOW, delivery=delivery)
    with pytest.raises(ImportRefused, match="copy or a subset"):
        import_file(db, copy, rules=rules, now=NOW, delivery=delivery)
    assert _billed(db) == pytest.approx(tp.total(rows, "BilledCost"), abs=1e-6)


def test_every_part_of_a_multi_part_export_is_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FINOPS_BOT_DB", raising=False)
    rows = tp.minimal_rows("gcp", n=300)
    folder = tmp_path / "BILLING_PERIOD=2026-05"
    folder.mkdir()
    tp.write_minimal(folder / "part-00001.csv", rows[:150])
    tp.write_minimal(folder / "part-00002.csv", rows[150:])
    db = str(tmp_path / "c.db")
    assert main(["import", str(folder), "--db", db, "--no-progress"]) == 0
    assert main(["import", str(folder), "--db", db, "--no-progress"]) == 0  # again: same
    from finops_bot.store import connect

    assert _billed(connect(db)) == pytest.approx(tp.total(rows, "BilledCost"), abs=1e-6)
    assert "part-00002.csv" in capsys.readouterr().out


def test_a_restated_month_replaces_only_that_month(db, rules, tmp_path):
    both = [charge("2026-10-05", 10), charge("2026-11-05", 20), charge("2026-11-06", 5)]
    import_file(db, write_focus(tmp_path / "oct-nov.csv", both), rules=rules, now=NOW)
    restated = [charge("2026-11-05", 21)]
    report = import_file(db, write_focus(tmp_path / "nov.csv", restated), rules=rules, now=NOW)
    assert report.result.rows_replaced == 2
    assert _billed(db) == pytest.approx(31.0)
    october = ("2026-10-01",)
    assert _billed(db, "k.billing_period_start = ?", october) == pytest.approx(10.0)
    # the older load's rollups were rebuilt: the cube says the same as the facts
    cube = db.execute("SELECT SUM(billed_cost) FROM cube WHERE dim = '*'").fetchone()[0]
    assert cube == pytest.approx(31.0)


def test_a_delivery_lacking_sub_accounts_of_the_earlier_one_warns(db, rules, tmp_path):
    first = [charge("2026-11-05", 10, account="a"), charge("2026-11-05", 4, account="b")]
    import_file(db, write_focus(tmp_path / "all.csv", first), rules=rules, now=NOW)
    report = import_file(
        db,
        write_focus(tmp_path / "a.csv", [charge("2026-11-05", 11, account="a")]),
        rules=rules,
        now=NOW,
    )
    assert any("sub account(s) b" in w for w in report.result.warnings)


def _sync(db, rules, rows):
    batch = pacsv.read_csv(write_focus(tp.Path("/tmp") / "sync-rows.csv", rows)).to_batches()
    load_columns(
        db,
        (focus_columns(b) for b in batch),
        source="aws-prod",
        kind="aws_cost_explorer",
        rules=rules,
        now=NOW,
        window=(date(2026, 11, 1), date(2026, 11, 30)),
    )


def test_overlapping_a_sync_source_is_refused_unless_append(db, rules, tmp_path):
    _sync(db, rules, [charge("2026-11-05", 100)])
    path = write_focus(tmp_path / "cur.csv", [charge("2026-11-05", 100)])
    with pytest.raises(ImportRefused, match="sync source aws-prod"):
        import_file(db, path, rules=rules, now=NOW)
    assert _billed(db) == pytest.approx(100.0)
    import_file(db, path, rules=rules, now=NOW, delivery=new_delivery(append=True))
    assert _billed(db) == pytest.approx(200.0)
    other = write_focus(tmp_path / "gcp.csv", [charge("2026-11-05", 7, provider="Google Cloud")])
    import_file(db, other, rules=rules, now=NOW)  # another provider: no collision


@pytest.mark.parametrize("order", ["actual first", "amortised first"])
def test_azure_actual_and_amortised_exports_merge(db, rules, shared_fixtures, order):
    folder = shared_fixtures / "azure" / "exports"
    actual = folder / "finops_toolkit_EA_ActualCost_Small.csv"
    amortised = folder / "finops_toolkit_EA_AmortizedCost_Small.csv"
    files = [actual, amortised] if order == "actual first" else [amortised, actual]
    for path in files:
        import_file(db, path, rules=rules, now=NOW)
    import_file(db, files[0], rules=rules, now=NOW)  # again: still merged, nothing doubles
    totals = db.execute("SELECT SUM(billed_cost), SUM(effective_cost) FROM charges").fetchone()
    assert totals == (pytest.approx(8.545007786741936), pytest.approx(16.296932136636645))
    cube = db.execute(
        "SELECT SUM(billed_cost), SUM(effective_cost) FROM cube WHERE dim = '*'"
    ).fetchone()
    assert cube == (pytest.approx(totals[0]), pytest.approx(totals[1]))


def test_an_ambiguous_azure_export_is_refused_and_cost_type_decides(
    db, rules, tmp_path, shared_fixtures
):
    folder = shared_fixtures / "azure" / "exports"
    mixed = tmp_path / "export.csv"
    lines = (folder / "finops_toolkit_EA_ActualCost_Small.csv").read_text("utf-8-sig").splitlines()
    more = (
        (folder / "finops_toolkit_EA_AmortizedCost_Small.csv").read_text("utf-8-sig").splitlines()
    )
    mixed.write_text("\n".join(lines + more[1:]) + "\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match="cost type is ambiguous"):
        import_file(db, mixed, rules=rules, now=NOW)
    report = import_file(
        db, mixed, rules=rules, now=NOW, delivery=new_delivery(cost_type="amortized")
    )
    assert report.result.cost_type == "amortized"
    assert "--cost-type" in report.notes[0]
    named = tmp_path / "ActualCost_export.csv"
    named.write_text("\n".join(more) + "\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match="its name says actual"):
        import_file(db, named, rules=rules, now=NOW)


def test_a_file_partly_in_another_of_the_same_command_is_refused(db, rules, tmp_path):
    rows = tp.minimal_rows("aws", n=400)
    full = tp.write_minimal(tmp_path / "full.csv", rows)
    subset = tp.write_minimal(tmp_path / "subset.csv", rows[100:250])
    delivery = new_delivery()
    import_file(db, full, rules=rules, now=NOW, delivery=delivery)
    with pytest.raises(ImportRefused, match="also in .*full.csv.*copy or a subset"):
        import_file(db, subset, rules=rules, now=NOW, delivery=delivery)
    assert _billed(db) == pytest.approx(tp.total(rows, "BilledCost"), abs=1e-6)


def test_parts_with_the_same_hourly_cost_are_still_parts(db, rules, tmp_path):
    """A steady instance: every hour costs the same; the parts split the day's hours."""
    hours = [charge("2026-11-05", 1.25, hour=h, resource="i-steady") for h in range(24)]
    delivery = new_delivery()
    for name, part in (("part-1.csv", hours[:12]), ("part-2.csv", hours[12:])):
        import_file(db, write_focus(tmp_path / name, part), rules=rules, now=NOW, delivery=delivery)
    assert _billed(db) == pytest.approx(24 * 1.25)


def test_the_cur_fixture_folder_never_doubles_october(tmp_path, shared_fixtures, capsys):
    """The folder holds the October parquet and a 1,000-row subset of it, derived daily
    CSVs and a mapping table: the subset is refused, the non-billing files skipped."""
    import pyarrow.parquet as pq

    from finops_bot.store import connect

    db = tmp_path / "cur.db"
    assert (
        main(["import", str(shared_fixtures / "aws" / "cur"), "--db", str(db), "--no-progress"])
        == 3
    )
    october = pq.read_table(
        shared_fixtures / "aws/cur/wa_labs_WorkshopCUR_2018-10.snappy.parquet",
        columns=["line_item_unblended_cost"],
    )
    expected = sum(october.column(0).to_pylist())
    got = _billed(connect(db), "k.billing_period_start = ?", ("2018-10-01",))
    assert got == pytest.approx(expected, rel=1e-9)
    out = capsys.readouterr()
    assert "skipped" in out.out and "not a billing file" in out.out
    assert "copy or a subset" in out.err


def test_a_folder_with_a_mapping_table_imports_with_exit_0(tmp_path, shared_fixtures, capsys):
    db = str(tmp_path / "az.db")
    assert main(["import", str(shared_fixtures / "azure" / "exports"), "--db", db]) == 0
    assert "skipped" in capsys.readouterr().out


def test_a_bad_currency_code_is_a_usage_error(tmp_path, capsys):
    path = write_focus(tmp_path / "a.csv", [charge("2026-11-01", 1)])
    assert main(["import", str(path), "--currency", "DOLLARS", "--db", str(tmp_path / "c.db")]) == 2
    assert "ISO 4217" in capsys.readouterr().err
