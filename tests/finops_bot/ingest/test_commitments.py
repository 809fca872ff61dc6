"""FOCUS 1.3 Contract Commitment import: a spec-shaped file stored as written (CSV and
Parquet), twice = once, a newer file replaces, two processes at once store once, bad rows
counted and named, a file with nothing importable refused, `expiring`, the CLI line."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bot.cli import main
from finops_bot.errors import ImportRefused
from finops_bot.ingest.commitments import COLUMNS, CommitmentReport
from finops_bot.ingest.importer import import_file
from finops_bot.store import connect
from finops_bot.store.commitments import Terms, commitments, expiring
from tests import thirdparty as tp
from tests.conftest import NOW, TODAY

# the spec's column order (tests/thirdparty.py), one row per commitment period
ROWS = [
    ["CC-EA-SPEND-0001", "Enterprise Agreement Minimum Spend", "Spend", "250000", "", "",
     "year 1 minimum spend", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
     "CONTRACT-EA-2026-0001", "2026-01-01T00:00:00Z", "2029-01-01T00:00:00Z", "USD"],
    ["CC-EA-SPEND-0001", "Enterprise Agreement Minimum Spend", "Spend", "275000.5", "", "",
     "year 2 minimum spend", "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z",
     "CONTRACT-EA-2026-0001", "2026-01-01T00:00:00Z", "2029-01-01T00:00:00Z", "USD"],
    ["CC-RI-USAGE-0002", "Reserved Capacity", "Usage", "", "8760", "Hours",
     "p5 reserved capacity", "2026-06-01T00:00:00Z", "2026-12-01T00:00:00Z",
     "CONTRACT-RC-0002", "2026-06-01T00:00:00Z", "2026-12-01T00:00:00Z", "USD"],
    ["CC-GCP-0003", "Committed Use", "Spend", "1200.25", "", "", "",
     "2025-12-10T00:00:00Z", "2026-12-10T00:00:00Z", "CONTRACT-GCP-0003", "", "", "EUR"],
]  # fmt: skip
EXPECTED = [
    Terms("CC-EA-SPEND-0001", "2026-01-01", "2027-01-01", "CONTRACT-EA-2026-0001",
          "Enterprise Agreement Minimum Spend", "Spend", "year 1 minimum spend", 250000.0,
          "USD", None, None, "2026-01-01", "2029-01-01"),
    Terms("CC-EA-SPEND-0001", "2027-01-01", "2028-01-01", "CONTRACT-EA-2026-0001",
          "Enterprise Agreement Minimum Spend", "Spend", "year 2 minimum spend", 275000.5,
          "USD", None, None, "2026-01-01", "2029-01-01"),
    Terms("CC-GCP-0003", "2025-12-10", "2026-12-10", "CONTRACT-GCP-0003", "Committed Use",
          "Spend", None, 1200.25, "EUR", None, None, None, None),
    Terms("CC-RI-USAGE-0002", "2026-06-01", "2026-12-01", "CONTRACT-RC-0002",
          "Reserved Capacity", "Usage", "p5 reserved capacity", None, "USD", 8760.0, "Hours",
          "2026-06-01", "2026-12-01"),
]  # fmt: skip


def write(path: Path, rows: list[list[str]] = ROWS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(tp.CONTRACT_COMMITMENT_COLUMNS)
        writer.writerows(rows)
    return path


def stored(db) -> list[Terms]:
    return [Terms(**{f: getattr(c, f) for f in COLUMNS}) for c in commitments(db)]


def test_the_spec_columns_are_the_mapped_ones():
    assert sorted(COLUMNS.values()) == sorted(tp.CONTRACT_COMMITMENT_COLUMNS)


def test_a_spec_shaped_file_stores_every_row_as_written(db, rules, tmp_path):
    path = write(tmp_path / "cc.csv")
    report = import_file(db, path, rules=rules, now=NOW)
    assert isinstance(report, CommitmentReport)
    assert (report.what, report.format) == ("FOCUS 1.3 Contract Commitment", "csv")
    assert (report.rows_read, report.rows_stored, report.bad.count) == (4, 4, 0)
    assert report.source == f"file:{path.resolve()}"
    assert stored(db) == EXPECTED
    assert {c.source for c in commitments(db)} == {report.source}
    assert {c.loaded_at for c in commitments(db)} == {"2026-11-22T06:00:00+00:00"}
    assert db.execute("SELECT COUNT(*) FROM charges").fetchone()[0] == 0  # no charges


def test_parquet_with_typed_columns_stores_the_same(db, rules, tmp_path):
    names = tp.CONTRACT_COMMITMENT_COLUMNS
    columns = {c: [r[i] or None for r in ROWS] for i, c in enumerate(names)}
    typed = {}
    for name, values in columns.items():
        if name.endswith(("PeriodStart", "PeriodEnd")):
            stamps = pa.array(values, pa.string()).cast(pa.timestamp("s", tz="UTC"))
            typed[name] = stamps
        elif name in ("ContractCommitmentCost", "ContractCommitmentQuantity"):
            typed[name] = pa.array([float(v) if v else None for v in values], pa.float64())
        else:
            typed[name] = pa.array(values, pa.string())
    path = tmp_path / "cc.parquet"
    pq.write_table(pa.table(typed), path)
    report = import_file(db, path, rules=rules, now=NOW)
    assert (report.format, report.rows_stored, report.bad.count) == ("parquet", 4, 0)
    assert stored(db) == EXPECTED


def test_twice_is_once_and_a_newer_file_replaces(db, rules, tmp_path):
    path = write(tmp_path / "cc.csv")
    import_file(db, path, rules=rules, now=NOW)
    again = import_file(db, path, rules=rules, now=NOW)
    assert again.replaced.rows == 4 and stored(db) == EXPECTED
    # the same bytes under another path: still once
    copy = shutil.copy(path, tmp_path / "copy.csv")
    moved = import_file(db, copy, rules=rules, now=NOW)
    assert moved.replaced.copies == (f"file:{path.resolve()}",) and stored(db) == EXPECTED
    # a newer file for the same source replaces the older one as a whole
    write(copy, ROWS[2:3])
    newer = import_file(db, copy, rules=rules, now=NOW)
    assert newer.replaced.rows == 4 and stored(db) == [EXPECTED[3]]
    # --source names the source: other sources are left alone
    import_file(db, path, rules=rules, now=NOW, source="ea-contracts")
    import_file(
        db, write(tmp_path / "b.csv", ROWS[:1]), rules=rules, now=NOW, source="ea-contracts"
    )
    by_source = {(c.source, c.id, c.period_start) for c in commitments(db)}
    assert by_source == {
        (f"file:{Path(copy).resolve()}", "CC-RI-USAGE-0002", "2026-06-01"),
        ("ea-contracts", "CC-EA-SPEND-0001", "2026-01-01"),
    }


def _import(db_path: str, path: str) -> None:
    from finops_bot.ingest.tags import TagRules

    db = connect(db_path)
    import_file(db, path, rules=TagRules({}), now=NOW)
    db.close()


@pytest.mark.parametrize("copies", [False, True], ids=["same-path", "two-copies"])
def test_two_processes_importing_at_once_store_once(db, db_path, tmp_path, copies):
    import multiprocessing

    first = write(tmp_path / "a.csv")
    second = shutil.copy(first, tmp_path / "b.csv") if copies else first
    ctx = multiprocessing.get_context("fork")
    runs = [ctx.Process(target=_import, args=(str(db_path), str(p))) for p in (first, second)]
    for p in runs:
        p.start()
    for p in runs:
        p.join(60)
        assert p.exitcode == 0
    assert stored(db) == EXPECTED
    assert len({c.source for c in commitments(db)}) == 1


BAD = [
    ["", *ROWS[0][1:]],  # row 2: no id
    ["CC-X-1", *ROWS[0][1:7], "not-a-date", *ROWS[0][8:]],
    ["CC-X-2", *ROWS[0][1:7], "2026-05-01T00:00:00Z", "2026-04-01T00:00:00Z", *ROWS[0][9:]],
    ["CC-X-3", *ROWS[0][1:3], "a lot", *ROWS[0][4:]],
    ROWS[0],  # repeats row 1
]


def test_bad_rows_are_counted_and_named(db, rules, tmp_path):
    report = import_file(db, write(tmp_path / "bad.csv", [ROWS[0], *BAD]), rules=rules, now=NOW)
    assert (report.rows_read, report.rows_stored, report.bad.count) == (6, 1, 5)
    said = report.bad.describe()
    assert "row 2: ContractCommitmentId is empty" in said
    assert (
        "row 3: ContractCommitmentPeriodStart is not a date/time in 1970-2199: 'not-a-date'" in said
    )
    assert (
        "row 4: ContractCommitmentPeriodEnd '2026-04-01T00:00:00Z' is not after "
        "ContractCommitmentPeriodStart '2026-05-01T00:00:00Z'" in said
    )
    assert "row 5: ContractCommitmentCost is not a number: 'a lot'" in said
    assert "row 6: ContractCommitmentId 'CC-EA-SPEND-0001' repeats row 1" in said
    assert stored(db) == EXPECTED[:1]
    with pytest.raises(ImportRefused, match=r"refused \(--strict\): row 2"):
        import_file(db, tmp_path / "bad.csv", rules=rules, now=NOW, strict=True)


def test_an_unreadable_contract_period_is_stored_empty_and_counted(db, rules, tmp_path):
    row = [*ROWS[0][:10], "whenever", *ROWS[0][11:]]
    report = import_file(db, write(tmp_path / "cc.csv", [row]), rules=rules, now=NOW)
    assert report.bad.count == 0 and report.nulled["ContractPeriodStart"].count == 1
    assert commitments(db)[0].contract_period_start is None


def test_a_file_with_no_importable_row_is_refused_and_changes_nothing(db, rules, tmp_path):
    path = write(tmp_path / "cc.csv")
    import_file(db, path, rules=rules, now=NOW)
    write(path, BAD[:4])
    with pytest.raises(ImportRefused, match="no importable commitments") as refused:
        import_file(db, path, rules=rules, now=NOW)
    said = str(refused.value)
    assert "\n" not in said and "row 1: ContractCommitmentId is empty" in said
    assert stored(db) == EXPECTED  # the earlier import is kept
    header_only = write(tmp_path / "empty.csv", [])
    with pytest.raises(ImportRefused, match=r"no importable commitments \(0 read"):
        import_file(db, header_only, rules=rules, now=NOW)


def test_a_file_without_the_period_columns_is_refused(db, rules, tmp_path):
    path = tmp_path / "cc.csv"
    path.write_text("ContractCommitmentId,ContractId,BillingCurrency\nCC-1,C-1,USD\n")
    with pytest.raises(ImportRefused, match="lacks ContractCommitmentPeriodStart, Contract"):
        import_file(db, path, rules=rules, now=NOW)


def test_expiring_is_soonest_first_within_the_days(db, rules, tmp_path):
    import_file(db, write(tmp_path / "cc.csv"), rules=rules, now=NOW)
    soon = expiring(db, TODAY, 30)  # TODAY is 2026-11-22
    assert [(c.id, c.period_end) for c in soon] == [
        ("CC-RI-USAGE-0002", "2026-12-01"),
        ("CC-GCP-0003", "2026-12-10"),
    ]
    assert [c.id for c in expiring(db, TODAY, 9)] == ["CC-RI-USAGE-0002"]
    assert expiring(db, TODAY, 8) == []
    assert [c.period_end for c in expiring(db, date(2026, 12, 10), 0)] == ["2026-12-10"]
    assert len(expiring(db, TODAY, 3650)) == 4


def test_the_cli_prints_one_summary_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FINOPS_BOT_DB", raising=False)
    db = str(tmp_path / "c.db")
    path = write(tmp_path / "cc.csv")
    assert main(["import", str(path), "--db", db, "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith(
        f"Imported 4 commitments (FOCUS 1.3 Contract Commitment, csv) from {path}: "
        "4 rows read, 0 refused, periods ending 2026-12-01 … 2028-01-01"
    )
    assert main(["import", str(path), "--db", db, "--no-progress"]) == 0
    assert "replaced the 4 rows it held before (no doubling)" in capsys.readouterr().out
    bad = write(tmp_path / "bad.csv", [ROWS[0], *BAD])
    assert main(["import", str(bad), "--db", db, "--no-progress"]) == 3
    out = capsys.readouterr()
    assert out.out.startswith("Imported 1 commitment (")
    assert "rows refused (counted from the first data row): row 2:" in out.out
    assert main(["import", str(write(bad, BAD[:2])), "--db", db, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "no importable commitments" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_third_party_contract_commitment_sample(db, rules, shared_fixtures):
    samples = [
        p
        for p in sorted(shared_fixtures.rglob("*"))
        if p.is_file() and p.suffix in (".csv", ".parquet") and "ContractCommitmentId" in _header(p)
    ]
    if not samples:
        pytest.skip(f"no FOCUS Contract Commitment sample under {shared_fixtures}")
    for sample in samples:
        report = import_file(db, sample, rules=rules, now=NOW)
        assert report.rows_stored == report.rows_read - report.bad.count > 0


def _header(path: Path) -> str:
    if path.suffix == ".parquet":
        return ",".join(pq.ParquetFile(path).schema_arrow.names)
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        return fh.readline()
