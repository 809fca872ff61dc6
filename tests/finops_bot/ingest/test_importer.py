"""FOCUS import: real samples, formats, re-import, bad files, bad rows, hourly roll-up."""

from __future__ import annotations

import csv
import gzip
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from finops_bot.errors import ImportRefused
from finops_bot.ingest import importer
from finops_bot.ingest.importer import import_file
from tests.conftest import NOW, charge, dump, write_focus


def _csv_totals(path: Path, measure: str) -> Decimal:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return sum((Decimal(r[measure]) for r in csv.DictReader(fh)), Decimal(0))


def _cache_total(db, column: str) -> float:
    return db.execute(f"SELECT SUM({column}) FROM charges").fetchone()[0]


def test_official_focus_sample_imports_with_exact_totals(db, rules, shared_fixtures):
    sample = shared_fixtures / "focus" / "focus_1.0_sample_1000.csv"
    report = import_file(db, sample, rules=rules, now=NOW)
    r = report.result
    assert report.what == "FOCUS 1.0"
    assert (r.rows_read, r.bad.count) == (1000, 0)
    assert r.providers == ["AWS", "Microsoft", "Oracle"]
    assert (r.first_day, r.last_day) == ("2024-09-01", "2024-09-30")
    for column, measure in (("effective_cost", "EffectiveCost"), ("billed_cost", "BilledCost")):
        expected = float(_csv_totals(sample, measure))
        assert _cache_total(db, column) == pytest.approx(expected, abs=1e-9)
        cube = db.execute(f"SELECT SUM({column}) FROM cube WHERE dim = '*'").fetchone()[0]
        assert cube == pytest.approx(expected, abs=1e-9)
    # "Project" (capitalised) tags feed the project column; " org" feeds team via config
    assert ("project", "Foo") in {(d, k) for d, k, _ in db.execute("SELECT * FROM names")}
    assert db.execute("SELECT COUNT(*) FROM charge_keys WHERE team != ''").fetchone()[0] > 0


@pytest.mark.parametrize(
    "name",
    sorted(
        p.name
        for p in (Path(__file__).resolve().parents[4] / "shared/fixtures/focus/spec_examples").glob(
            "*.csv"
        )
    )
    or ["(absent)"],
)
def test_every_spec_example_imports(db, rules, shared_fixtures, name):
    path = shared_fixtures / "focus" / "spec_examples" / name
    # the spec's worked examples have no BillingCurrency column: refused without --currency
    with pytest.raises(ImportRefused, match="BillingCurrency.*--currency"):
        import_file(db, path, rules=rules, now=NOW)
    report = import_file(db, path, rules=rules, now=NOW, currency="USD")
    assert report.result.bad.count == 0
    assert _cache_total(db, "billed_cost") == pytest.approx(float(_csv_totals(path, "BilledCost")))
    assert _cache_total(db, "effective_cost") == pytest.approx(
        float(_csv_totals(path, "EffectiveCost"))
    )


def test_amortisation_keeps_billed_and_effective_apart(db, rules, shared_fixtures):
    path = shared_fixtures / "focus/spec_examples/commitment_discount_usage_scenario_4.csv"
    import_file(db, path, rules=rules, now=NOW, currency="USD")
    billed, effective = db.execute(
        "SELECT SUM(billed_cost), SUM(effective_cost) FROM charges"
    ).fetchone()
    assert (billed, effective) == (0.5, 1.5)


def test_csv_gz_and_parquet_give_the_same_cache(tmp_path, rules, shared_fixtures):
    from finops_bot.store import connect

    sample = shared_fixtures / "focus" / "focus_1.0_sample_1000.csv"
    gz = tmp_path / "sample.csv.gz"
    with sample.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    table = pacsv.read_csv(sample, convert_options=pacsv.ConvertOptions(null_values=["NULL"]))
    parquet = tmp_path / "sample.parquet"
    pq.write_table(table, parquet)
    results = []
    for path in (sample, gz, parquet):
        db = connect(tmp_path / f"{path.name}.db")
        report = import_file(db, path, rules=rules, now=NOW)
        results.append(
            (
                report.result.rows_read,
                round(_cache_total(db, "effective_cost"), 9),
                db.execute("SELECT COUNT(*) FROM cube").fetchone()[0],
            )
        )
        db.close()
    assert results[0] == results[1] == results[2]


def test_focus_1_1_and_1_2_with_extension_columns(db, rules, tmp_path):
    rows = [charge("2026-11-01", 10), charge("2026-11-02", 5)]
    for row in rows:
        row.update(ServiceSubcategory="Virtual Machines", InvoiceId="INV-1", x_Discount="0")
    v12 = write_focus(
        tmp_path / "v12.csv",
        rows,
        [*rows[0].keys()],
    )
    report = import_file(db, v12, rules=rules, now=NOW)
    assert report.what == "FOCUS 1.2"
    v11 = write_focus(tmp_path / "v11.csv", rows, [c for c in rows[0] if c != "InvoiceId"])
    assert import_file(db, v11, rules=rules, now=NOW).what == "FOCUS 1.1"


def test_reimport_replaces_never_doubles(db, rules, tmp_path):
    path = write_focus(tmp_path / "a.csv", [charge("2026-11-01", 10), charge("2026-11-02", 5)])
    import_file(db, path, rules=rules, now=NOW)
    first = dump(db)
    report = import_file(db, path, rules=rules, now=NOW)
    assert report.result.rows_replaced == 2
    assert _cache_total(db, "billed_cost") == 15
    assert dump(db)["cube"] == first["cube"]
    # same content under another path is the same file: replaced, not added
    moved = tmp_path / "moved.csv"
    shutil.copy(path, moved)
    report = import_file(db, moved, rules=rules, now=NOW)
    assert report.result.replaced_sources == [f"file:{path.resolve()}"]
    assert _cache_total(db, "billed_cost") == 15
    assert db.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 1


def test_changed_file_replaces_its_previous_content(db, rules, tmp_path):
    path = write_focus(tmp_path / "a.csv", [charge("2026-11-01", 10), charge("2026-11-02", 5)])
    import_file(db, path, rules=rules, now=NOW)
    write_focus(path, [charge("2026-11-02", 7)])  # the provider restated
    import_file(db, path, rules=rules, now=NOW)
    assert _cache_total(db, "billed_cost") == 7
    assert db.execute("SELECT first_day, last_day, rows FROM sources").fetchone() == (
        "2026-11-02",
        "2026-11-02",
        1,
    )


def test_missing_required_columns_refused_and_nothing_changes(db, rules, tmp_path):
    good = write_focus(tmp_path / "good.csv", [charge("2026-11-01", 10)])
    import_file(db, good, rules=rules, now=NOW)
    before = dump(db)
    bad = write_focus(
        tmp_path / "bad.csv",
        [charge("2026-11-01", 10)],
        ["ChargePeriodStart", "ServiceName", "BillingCurrency"],
    )
    with pytest.raises(ImportRefused) as err:
        import_file(db, bad, rules=rules, now=NOW)
    assert "BilledCost, EffectiveCost" in str(err.value)
    assert "unchanged" in str(err.value)
    assert dump(db) == before


def test_legacy_cur_csv_imports_with_exact_totals(db, rules, shared_fixtures):
    cur = shared_fixtures / "aws/cur/focus_converters_anonymous_cur_2023-11.csv"
    report = import_file(db, cur, rules=rules, now=NOW)
    assert report.what == "AWS CUR"
    assert report.result.bad.count == 0
    assert _cache_total(db, "billed_cost") == pytest.approx(
        float(_csv_totals(cur, "lineItem/UnblendedCost")), abs=1e-9
    )
    assert db.execute("SELECT DISTINCT ProviderName FROM focus_charges").fetchall() == [("AWS",)]


def test_athena_style_cur_parquet_with_drifting_columns(tmp_path, rules, shared_fixtures):
    from finops_bot.store import connect

    totals = {}
    for month in ("10", "11", "12"):
        path = shared_fixtures / f"aws/cur/wa_labs_WorkshopCUR_2018-{month}.snappy.parquet"
        db = connect(tmp_path / f"cur{month}.db")
        report = import_file(db, path, rules=rules, now=NOW)
        assert report.what == "AWS CUR" and report.result.bad.count == 0
        expected = pq.read_table(path, columns=["line_item_unblended_cost"]).column(0)
        assert _cache_total(db, "billed_cost") == pytest.approx(
            sum(v for v in expected.to_pylist() if v is not None), rel=1e-9
        )
        pricing = dict(
            db.execute("SELECT PricingCategory, COUNT(*) FROM focus_charges GROUP BY 1").fetchall()
        )
        assert pricing.get("Dynamic") and pricing.get("Committed")  # Spot and RI usage
        tags = db.execute(
            "SELECT COUNT(*) FROM focus_charges WHERE Tags LIKE '%user:cost_center%'"
        ).fetchone()[0]
        assert tags > 0
        totals[month] = report.result.rows_read
        db.close()
    assert totals == {"10": 119_307, "11": 124_340, "12": 91_264}


def test_cur_csv_subset_amortises_reservations(db, rules, shared_fixtures):
    path = shared_fixtures / "aws/cur/wa_labs_WorkshopCUR_2018-10_subset1000.csv"
    import_file(db, path, rules=rules, now=NOW)
    billed, effective = db.execute(
        "SELECT SUM(BilledCost), SUM(EffectiveCost) FROM focus_charges "
        "WHERE PricingCategory = 'Committed'"
    ).fetchone()
    assert billed == pytest.approx(0.0, abs=1e-6)  # RI-covered usage is billed through RIFee
    assert effective > 0  # ... and costs its effective rate when amortised


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"\x00\x01garbage\n", "not a billing file")],
)
def test_unreadable_files_are_refused_clearly(db, rules, tmp_path, content, message):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(ImportRefused, match=message):
        import_file(db, path, rules=rules, now=NOW)


def test_missing_path_and_folder(db, rules, tmp_path):
    with pytest.raises(ImportRefused, match="no such file"):
        import_file(db, tmp_path / "nope.csv", rules=rules, now=NOW)
    with pytest.raises(ImportRefused, match="folder"):
        import_file(db, tmp_path, rules=rules, now=NOW)


def test_bad_rows_are_counted_reported_and_skipped(db, rules, tmp_path):
    rows = [charge("2026-11-01", 10) for _ in range(5)]
    rows[1]["BilledCost"] = "12,5x"
    rows[3]["ChargePeriodStart"] = "yesterday-ish"
    rows[4]["EffectiveCost"] = ""
    path = write_focus(tmp_path / "rows.csv", rows)
    report = import_file(db, path, rules=rules, now=NOW)
    bad = report.result.bad
    assert bad.count == 3
    assert [n for n, _ in bad.samples] == [2, 4, 5]
    text = bad.describe()
    assert "row 2: BilledCost is not a number: '12,5x'" in text
    assert "row 4: ChargePeriodStart is not a date/time" in text
    assert "row 5: EffectiveCost is empty" in text
    assert _cache_total(db, "billed_cost") == 20


def test_strict_refuses_the_whole_file(db, rules, tmp_path):
    rows = [charge("2026-11-01", 10), charge("2026-11-02", 10)]
    rows[1]["BilledCost"] = "abc"
    path = write_focus(tmp_path / "rows.csv", rows)
    with pytest.raises(ImportRefused, match=r"--strict.*row 2"):
        import_file(db, path, rules=rules, now=NOW, strict=True)
    assert db.execute("SELECT COUNT(*) FROM charges").fetchone()[0] == 0


def test_a_file_with_only_bad_rows_changes_nothing(db, rules, tmp_path):
    path = write_focus(tmp_path / "a.csv", [charge("2026-11-01", 10)])
    import_file(db, path, rules=rules, now=NOW)
    before = dump(db)
    row = charge("2026-11-01", 10)
    row["BilledCost"] = "n/a"
    write_focus(path, [row])
    with pytest.raises(ImportRefused, match="no importable rows"):
        import_file(db, path, rules=rules, now=NOW)
    assert dump(db) == before


def test_failure_midway_leaves_the_cache_exactly_as_it_was(db, rules, tmp_path, monkeypatch):
    path = write_focus(tmp_path / "a.csv", [charge("2026-11-01", 10)])
    import_file(db, path, rules=rules, now=NOW)
    before = dump(db)
    big = write_focus(
        tmp_path / "a.csv",
        [
            charge(f"2026-10-{d:02d}", d, resource=f"i-{i}")
            for d in range(1, 29)
            for i in range(400)
        ],
    )
    real = importer.normalize
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "normalize", failing)
    monkeypatch.setattr("finops_bot.ingest.files.CSV_BLOCK_BYTES", 64 << 10)
    with pytest.raises(OSError):
        import_file(db, big, rules=rules, now=NOW)
    assert calls["n"] == 2
    assert dump(db) == before


def test_hourly_rows_roll_up_to_utc_days(db, rules, tmp_path):
    rows = [charge("2026-11-01", 1.0, hour=h) for h in range(24)]
    late = charge("2026-11-01", 5.0, hour=23)
    late["ChargePeriodStart"] = "2026-11-01T23:30:00-02:00"  # 01:30 UTC on the 2nd
    late["ChargePeriodEnd"] = "2026-11-02T00:30:00-02:00"
    path = write_focus(tmp_path / "hourly.csv", [*rows, late])
    import_file(db, path, rules=rules, now=NOW)
    assert db.execute("SELECT ChargeDay, BilledCost FROM focus_charges ORDER BY 1").fetchall() == [
        ("2026-11-01", 24.0),
        ("2026-11-02", 5.0),
    ]


def test_official_sample_timestamps_without_t_or_z(db, rules, tmp_path):
    row = charge("2026-11-01", 3)
    row["ChargePeriodStart"] = "2026-11-01 22:00:00"
    row["ChargePeriodEnd"] = "2026-11-01 23:00:00"
    import_file(db, write_focus(tmp_path / "a.csv", [row]), rules=rules, now=NOW)
    assert db.execute("SELECT ChargeDay FROM focus_charges").fetchall() == [("2026-11-01",)]


def test_tag_keys_matched_trimmed_case_insensitive_and_prefixed(db, rules, tmp_path):
    rows = [
        charge("2026-11-01", 1, tags={"Project": "a", " org": "nlp"}),
        charge("2026-11-01", 2, tags={"user:project": "b", "Owner": "x@y.z"}, resource="i-2"),
        charge("2026-11-01", 4, tags={"project": " c ", "env": "dev"}, resource="i-3"),
        charge("2026-11-01", 8, tags={}, resource="i-4"),
    ]
    import_file(db, write_focus(tmp_path / "t.csv", rows), rules=rules, now=NOW)
    got = db.execute(
        "SELECT project, team, owner, Tags FROM focus_charges ORDER BY BilledCost"
    ).fetchall()
    assert got == [
        ("a", "nlp", "", None),
        ("b", "", "x@y.z", None),
        ("c", "", "", '{"env": "dev"}'),
        ("", "", "", None),
    ]


def test_azure_braceless_tags_and_bom(db, rules, tmp_path):
    row = charge("2026-11-01", 1)
    row["Tags"] = '"project": "speech-asr","costcenter": "42"'
    path = write_focus(tmp_path / "az.csv", [row])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    import_file(db, path, rules=rules, now=NOW)
    assert db.execute("SELECT project, Tags FROM focus_charges").fetchone() == (
        "speech-asr",
        '{"costcenter": "42"}',
    )


def test_unreadable_tags_keep_the_money(db, rules, tmp_path):
    row = charge("2026-11-01", 9)
    row["Tags"] = "{not json"
    report = import_file(db, write_focus(tmp_path / "a.csv", [row]), rules=rules, now=NOW)
    assert report.result.unreadable_tags == 1
    assert _cache_total(db, "billed_cost") == 9


def test_parquet_with_native_types(db, rules, tmp_path):
    table = pa.table(
        {
            "ChargePeriodStart": pa.array([0, 3600], pa.timestamp("s", tz="UTC")),
            "BilledCost": pa.array([1.25, 2.5], pa.float64()),
            "EffectiveCost": pa.array([Decimal("1.0"), Decimal("2.0")], pa.decimal128(18, 6)),
            "BillingCurrency": ["EUR", "EUR"],
            "SubAccountId": pa.array([123, 123], pa.int64()),
            "Tags": pa.array(['{"project": "p"}', None]),
        }
    )
    path = tmp_path / "native.parquet"
    pq.write_table(table, path)
    import_file(db, path, rules=rules, now=NOW)
    assert db.execute(
        "SELECT ChargeDay, SubAccountId, BillingCurrency, SUM(EffectiveCost) FROM focus_charges"
    ).fetchone() == ("1970-01-01", "123", "EUR", 3.0)


def test_cur_amortisation_follows_the_line_item_types(db, rules, tmp_path):
    """Hand-made CUR rows, one per line item type, with the amortised cost AWS defines."""
    header = [
        "lineItem/UsageStartDate",
        "lineItem/UnblendedCost",
        "lineItem/LineItemType",
        "lineItem/UsageType",
        "lineItem/CurrencyCode",
        "reservation/EffectiveCost",
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
        "reservation/UnusedRecurringFee",
        "savingsPlan/SavingsPlanEffectiveCost",
        "savingsPlan/TotalCommitmentToDate",
        "savingsPlan/UsedCommitment",
        "resourceTags/user:Project",
    ]
    rows = [
        [
            "2026-11-01T00:00:00Z",
            "2.0",
            "Usage",
            "BoxUsage:p4d",
            "USD",
            "",
            "",
            "",
            "",
            "",
            "",
            "bert-training",
        ],
        [
            "2026-11-01T00:00:00Z",
            "0.6",
            "Usage",
            "SpotUsage:p4d",
            "USD",
            "",
            "",
            "",
            "",
            "",
            "",
            "bert-training",
        ],
        [
            "2026-11-01T00:00:00Z",
            "0",
            "DiscountedUsage",
            "BoxUsage:p4d",
            "USD",
            "1.5",
            "",
            "",
            "",
            "",
            "",
            "bert-training",
        ],
        [
            "2026-11-01T00:00:00Z",
            "10",
            "RIFee",
            "HeavyUsage:p4d",
            "USD",
            "",
            "0.5",
            "0.25",
            "",
            "",
            "",
            "",
        ],
        [
            "2026-11-01T00:00:00Z",
            "3",
            "SavingsPlanCoveredUsage",
            "BoxUsage:g5",
            "USD",
            "",
            "",
            "",
            "1.2",
            "",
            "",
            "nlp",
        ],
        [
            "2026-11-01T00:00:00Z",
            "-3",
            "SavingsPlanNegation",
            "BoxUsage:g5",
            "USD",
            "",
            "",
            "",
            "",
            "",
            "",
            "nlp",
        ],
        [
            "2026-11-01T00:00:00Z",
            "5",
            "SavingsPlanRecurringFee",
            "ComputeSP",
            "USD",
            "",
            "",
            "",
            "",
            "5",
            "4",
            "",
        ],
        ["2026-11-01T00:00:00Z", "0.4", "Tax", "", "USD", "", "", "", "", "", "", ""],
    ]
    path = tmp_path / "cur.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    report = import_file(db, path, rules=rules, now=NOW)
    assert report.what == "AWS CUR"
    got = db.execute(
        "SELECT PricingCategory, ChargeCategory, SUM(BilledCost), SUM(EffectiveCost) "
        "FROM focus_charges GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()
    assert got == [
        ("Committed", "Usage", pytest.approx(0.0), pytest.approx(1.5 + 1.2)),
        ("Dynamic", "Usage", pytest.approx(0.6), pytest.approx(0.6)),
        ("Standard", "Purchase", pytest.approx(15.0), pytest.approx(0.75 + 1.0)),
        ("Standard", "Tax", pytest.approx(0.4), pytest.approx(0.4)),
        ("Standard", "Usage", pytest.approx(2.0), pytest.approx(2.0)),
    ]
    assert db.execute(
        "SELECT SUM(BilledCost) FROM focus_charges WHERE project = 'bert-training'"
    ).fetchone()[0] == pytest.approx(2.6)


@pytest.mark.parametrize(
    ("name", "cost_column", "currency"),
    [
        ("finops_toolkit_EA_ActualCost_Small.csv", "Cost", "USD"),
        ("finops_toolkit_EA_AmortizedCost_Small.csv", "Cost", "USD"),
        ("focus_converters_anonymous_ea_export_2023-09.csv", "CostInBillingCurrency", "CAD"),
    ],
)
def test_azure_ea_exports_import(db, rules, shared_fixtures, name, cost_column, currency):
    path = shared_fixtures / "azure/exports" / name
    report = import_file(db, path, rules=rules, now=NOW)
    assert report.what == "Azure cost-details export"
    assert report.result.bad.count == 0
    assert report.result.first_day.startswith("2023-09")
    assert _cache_total(db, "billed_cost") == pytest.approx(
        float(_csv_totals(path, cost_column)), rel=1e-9
    )
    assert list(report.result.totals) == [currency]


def test_azure_braceless_tags_feed_allocation(db, rules, tmp_path):
    path = tmp_path / "ea.csv"
    path.write_text(
        "\ufeffSubscriptionId,Date,MeterCategory,Cost,BillingCurrency,Tags\n"
        's1,11/02/2026,Virtual Machines,12.5,USD,"""project"": ""speech-asr"",""env"": ""prod"""\n'
        "s1,13/45/2026,Virtual Machines,1,USD,\n",
        encoding="utf-8",
    )
    report = import_file(db, path, rules=rules, now=NOW)
    assert report.result.bad.count == 1 and "ChargePeriodStart" in report.result.bad.describe()
    assert db.execute("SELECT ChargeDay, project, Tags FROM focus_charges").fetchall() == [
        ("2026-11-02", "speech-asr", '{"env": "prod"}')
    ]
