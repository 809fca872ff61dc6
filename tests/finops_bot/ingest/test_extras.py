"""The optional FOCUS columns beside the charges (charge_extras, load_columns): stored values
equal an independent read of the file at the cache's grain, Used and Unused never merge,
every delete path takes them along, and the CUR and Azure mappings."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from finops_bot.errors import ImportRefused
from finops_bot.ingest.importer import import_file, load_batches
from finops_bot.ingest.normalize import FOCUS_FIELDS
from finops_bot.sources.gcp_bigquery import GcpBigQueryExport
from finops_bot.sources.sync import sync_source
from finops_bot.store import connect
from finops_bot.store.extras import PRICE_COLUMNS, SUMMED_COLUMNS, TEXT_COLUMNS, columns_by_source
from tests import thirdparty as tp
from tests.conftest import FOCUS_COLUMNS, NOW, charge, write_focus

NULLS = {"", "NULL", "null", "None"}
TEXTS = list(TEXT_COLUMNS)
ORPHANS = "SELECT COUNT(*) FROM charge_extras WHERE charge_id NOT IN (SELECT id FROM charges)"
FIELD_OF = {name: f for f, name in FOCUS_FIELDS.items()}


def _rows(path: Path) -> list[dict]:
    """The file read independently of the importer: csv or pyarrow, nulls as None."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return [{k: None if v in NULLS else v for k, v in r.items()} for r in csv.DictReader(fh)]


def _seconds(value) -> float | None:
    """Epoch seconds; None for what is no date/time (a spec example ends at hour 30)."""
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


ALLOWED = {"used": "Used", "unused": "Unused", "spend": "Spend", "usage": "Usage"}
ALLOWED |= {"correction": "Correction"}
ENUMERATED = {"CommitmentDiscountStatus", "CommitmentDiscountCategory", "ChargeClass"}
ENUMERATED |= {"CapacityReservationStatus"}


def _text(value, name: str = "") -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return ALLOWED.get(value.strip().lower(), value) if name in ENUMERATED else value


def _expected(rows: list[dict]) -> dict:
    """Per (day, resource, sku, text extras): summed measures, price sets, latest end."""
    out: dict = {}
    for r in rows:
        day = int(_seconds(r["ChargePeriodStart"]) // 86_400)
        texts = tuple(_text(r.get(TEXT_COLUMNS[c]), TEXT_COLUMNS[c]) for c in TEXTS)
        key = (day, r.get("ResourceId"), r.get("SkuId"), texts)
        group = out.setdefault(key, {"end": None, **{c: None for c in SUMMED_COLUMNS}})
        for c, name in SUMMED_COLUMNS.items():
            if r.get(name) not in (None, ""):
                group[c] = (group[c] or 0.0) + float(r[name])
        for c, name in PRICE_COLUMNS.items():
            if r.get(name) not in (None, ""):
                group.setdefault(c, set()).add(float(r[name]))
        end = _seconds(r["ChargePeriodEnd"]) if r.get("ChargePeriodEnd") is not None else None
        if end is not None:
            group["end"] = max(group["end"] or 0, end)
    return out


def _cached(db) -> dict:
    columns = [*TEXTS, *SUMMED_COLUMNS, *PRICE_COLUMNS]
    out: dict = {}
    for row in db.execute(
        f"SELECT c.day, c.resource_id, c.sku_id, {', '.join(f'x.{c}' for c in columns)}, "
        "COALESCE(x.charge_period_end, strftime('%Y-%m-%dT%H:%M:%SZ', (c.day + 1) * 86400, "
        "'unixepoch')) FROM charges c LEFT JOIN charge_extras x ON x.charge_id = c.id"
    ):
        values = dict(zip(columns, row[3:-1], strict=True))
        key = (row[0], row[1], row[2], tuple(values[c] for c in TEXTS))
        group = out.setdefault(key, {"end": None, **{c: None for c in SUMMED_COLUMNS}})
        for c in SUMMED_COLUMNS:
            if values[c] is not None:
                group[c] = (group[c] or 0.0) + values[c]
        for c in PRICE_COLUMNS:
            group.setdefault(c, set()).add(values[c])
        group["end"] = max(group["end"] or 0, _seconds(row[-1]))
    return out


def _assert_same(db, path: Path) -> None:
    expected, cached = _expected(_rows(path)), _cached(db)
    assert set(cached) == set(expected)
    for key, want in expected.items():
        got = cached[key]
        assert got["end"] == want["end"], key
        for c in SUMMED_COLUMNS:
            assert got[c] == (None if want[c] is None else pytest.approx(want[c])), (key, c)
        for c in PRICE_COLUMNS:
            prices = want.get(c, set())
            assert got[c] - {None} <= prices, (key, c)  # kept only where the rows agree
            if len(prices) == 1:
                assert got[c] - {None} == prices, (key, c)
    empty = " AND ".join(f"{c} IS NULL" for c in [*TEXTS, *SUMMED_COLUMNS, *PRICE_COLUMNS])
    assert db.execute(
        f"SELECT COUNT(*) FROM charge_extras WHERE {empty} AND charge_period_end IS NULL"
    ).fetchone() == (0,)


def _shared_samples() -> list[str]:
    folder = Path(__file__).resolve().parents[4] / "shared/fixtures/focus"
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.csv")) or ["(absent)"]


@pytest.mark.parametrize("name", _shared_samples())
def test_shared_focus_samples_store_what_the_file_says(db, rules, shared_fixtures, name):
    path = shared_fixtures / "focus" / name
    result = import_file(db, path, rules=rules, now=NOW, currency="USD").result
    assert result.bad.count == 0
    _assert_same(db, path)


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_shared_focus_1_2_and_1_3_samples(rules, shared_fixtures, tmp_path, version):
    found = [
        p
        for p in sorted((shared_fixtures / "focus").rglob("*"))
        if version in p.name and p.suffix in (".csv", ".parquet")
    ]
    if not found:
        pytest.skip(
            f"no FOCUS {version} sample under {shared_fixtures / 'focus'} (PROVENANCE.md: the "
            "public 1.2/1.3 samples state no license, so none were copied)"
        )
    for i, path in enumerate(found):
        db = connect(tmp_path / f"{i}.db")
        import_file(db, path, rules=rules, now=NOW, currency="USD")
        _assert_same(db, path)
        db.close()


@pytest.mark.parametrize(("version", "fmt"), [("1.2", "csv"), ("1.3", "csv"), ("1.3", "parquet")])
def test_third_party_shaped_focus_store_what_the_file_says(db, rules, tmp_path, version, fmt):
    rows = tp.minimal_rows("aws", n=300, version=version)
    rows += tp.minimal_rows("azure", n=200, seed=7, version=version)
    path = tp.write_minimal(tmp_path / f"focus_{version}.csv", rows, version)
    if fmt == "parquet":  # typed columns: timestamps, doubles
        nulls = pacsv.ConvertOptions(strings_can_be_null=True)
        pq.write_table(pacsv.read_csv(path, convert_options=nulls), tmp_path / "focus.parquet")
        path = tmp_path / "focus.parquet"
    assert import_file(db, path, rules=rules, now=NOW).result.bad.count == 0
    _assert_same(db, path)
    (source,) = columns_by_source(db).values()
    assert {"InvoiceId", "PricingCurrencyEffectiveCost", "ServiceSubcategory"} <= source
    assert {"CommitmentDiscountStatus", "CapacityReservationId"}.isdisjoint(source)  # all null


COMMITMENT_COLUMNS = [
    *FOCUS_COLUMNS,
    "CommitmentDiscountId",
    "CommitmentDiscountStatus",
    "CommitmentDiscountQuantity",
    "InvoiceId",
]


def _commitment_rows(day: str, used: float, unused: float, **kw) -> list[dict]:
    """24 hourly Used and 24 Unused rows of one commitment on one resource."""
    rows = []
    for hour in range(24):
        for status, cost in (("Used", used), ("Unused", unused)):
            row = charge(day, 0.0, effective=cost, hour=hour, pricing="Committed", **kw)
            row.update(
                CommitmentDiscountId="sp-1",
                CommitmentDiscountStatus=status,
                CommitmentDiscountQuantity=str(cost),
                InvoiceId="INV-11",
            )
            rows.append(row)
    return rows


def test_used_and_unused_of_one_commitment_on_one_day_stay_apart(db, rules, tmp_path):
    rows = _commitment_rows("2026-11-02", 0.75, 0.25)
    rows[0]["CommitmentDiscountStatus"], rows[1]["CommitmentDiscountStatus"] = "used", "UNUSED "
    path = write_focus(tmp_path / "hourly.csv", rows, COMMITMENT_COLUMNS)
    import_file(db, path, rules=rules, now=NOW)
    assert db.execute(
        "SELECT CommitmentDiscountStatus, COUNT(*), SUM(EffectiveCost), "
        "SUM(CommitmentDiscountQuantity), MAX(ChargePeriodEnd) FROM focus_charges "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall() == [
        ("Unused", 1, pytest.approx(6.0), pytest.approx(6.0), "2026-11-02T23:59:59Z"),
        ("Used", 1, pytest.approx(18.0), pytest.approx(18.0), "2026-11-02T23:59:59Z"),
    ]
    _assert_same(db, path)


def test_a_file_without_the_columns_writes_no_extras(db, rules, tmp_path):
    rows = [charge(f"2026-11-{d:02d}", 10.0 + d) for d in range(1, 8)]  # ends with its day
    import_file(db, write_focus(tmp_path / "plain.csv", rows), rules=rules, now=NOW)
    assert db.execute("SELECT COUNT(*) FROM charge_extras").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM load_columns").fetchone() == (0,)
    assert list(columns_by_source(db).values()) == [set()]
    first_end = "SELECT ChargePeriodEnd FROM focus_charges ORDER BY ChargeDay LIMIT 1"
    assert db.execute(first_end).fetchone() == ("2026-11-02T00:00:00Z",)


def _state(db) -> tuple[int, int, int]:
    extras = db.execute("SELECT COUNT(*) FROM charge_extras").fetchone()[0]
    columns = db.execute("SELECT COUNT(*) FROM load_columns").fetchone()[0]
    return extras, db.execute(ORPHANS).fetchone()[0], columns


def _sync(db, rules, rows: list[dict], window: tuple[date, date] | None = None):
    columns = {c: pa.array([r.get(c) for r in rows], pa.string()) for c in COMMITMENT_COLUMNS}
    batch = pa.RecordBatch.from_pydict(columns)
    return load_batches(
        db, [batch], FIELD_OF, source="sync-x", kind="sync", rules=rules, now=NOW, window=window
    )


def test_every_delete_path_takes_the_extras_along(db, rules, tmp_path):
    first = write_focus(
        tmp_path / "a.csv", _commitment_rows("2026-11-02", 1, 2), COMMITMENT_COLUMNS
    )
    import_file(db, first, rules=rules, now=NOW)
    assert _state(db) == (2, 0, 5)  # Used and Unused; 5 columns carried
    import_file(db, first, rules=rules, now=NOW)  # the same bytes again, then elsewhere
    shutil.copy(first, tmp_path / "copy.csv")
    import_file(db, tmp_path / "copy.csv", rules=rules, now=NOW)
    assert _state(db) == (2, 0, 5)
    # another delivery of the same partitions replaces the load, its extras with it
    rows = _commitment_rows("2026-11-02", 3, 0) + _commitment_rows("2026-10-30", 1, 1)
    import_file(db, write_focus(tmp_path / "b.csv", rows, COMMITMENT_COLUMNS), rules=rules, now=NOW)
    assert _state(db) == (4, 0, 5)
    assert db.execute("SELECT SUM(commitment_discount_quantity) FROM charge_extras").fetchone()[
        0
    ] == pytest.approx(24 * 3 + 48)
    # a delivery of November only: b's October rows and their extras stay
    nov = _commitment_rows("2026-11-03", 5, 5)
    import_file(db, write_focus(tmp_path / "c.csv", nov, COMMITMENT_COLUMNS), rules=rules, now=NOW)
    assert _state(db) == (2 + 2, 0, 5 + 5)
    assert db.execute(
        "SELECT COUNT(*) FROM charge_extras x JOIN charges c ON c.id = x.charge_id WHERE c.day = ?",
        (date(2026, 10, 30).toordinal() - date(1970, 1, 1).toordinal(),),
    ).fetchone() == (2,)
    # a sync source: a window replaces those days only, then everything
    days = [_commitment_rows(f"2026-11-{d:02d}", 1, 1, provider="X") for d in (5, 6, 7)]
    _sync(db, rules, [r for day in days for r in day])
    _sync(db, rules, days[1], window=(date(2026, 11, 6), date(2026, 11, 7)))
    assert _state(db) == (4 + 2 + 2, 0, 10 + 5 + 5)  # days 5 and 6: two loads
    _sync(db, rules, days[0])
    assert _state(db) == (4 + 2, 0, 10 + 5)
    # a load that fails rolls back with its extras
    bad = [*_commitment_rows("2026-11-09", 1, 1), {**charge("2026-11-09", 1), "BilledCost": "x"}]
    path = write_focus(tmp_path / "bad.csv", bad, COMMITMENT_COLUMNS)
    with pytest.raises(ImportRefused):
        import_file(db, path, rules=rules, now=NOW, strict=True)
    assert _state(db) == (6, 0, 15)


# the real legacy CUR CSV header names (AWS CUR data dictionary), a few rows by hand
CUR_HEADER = (  # noqa: SIM905
    "identity/LineItemId,bill/InvoiceId,bill/InvoicingEntity,bill/BillingEntity,"
    "bill/PayerAccountId,bill/BillingPeriodStartDate,lineItem/UsageAccountId,"
    "lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,"
    "lineItem/UsageType,lineItem/ResourceId,lineItem/AvailabilityZone,lineItem/UsageAmount,"
    "lineItem/CurrencyCode,lineItem/UnblendedCost,lineItem/LegalEntity,product/ProductName,"
    "product/region,pricing/currency,pricing/publicOnDemandRate,pricing/unit,"
    "reservation/ReservationARN,reservation/EffectiveCost,reservation/UnusedQuantity,"
    "reservation/UnusedRecurringFee,savingsPlan/SavingsPlanARN,"
    "savingsPlan/SavingsPlanEffectiveCost,savingsPlan/TotalCommitmentToDate,"
    "savingsPlan/UsedCommitment"
).split(",")
RI = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-1"
SP = "arn:aws:savingsplans::111122223333:savingsplan/sp-1"


def _cur_row(kind, start, end, cost, **kw) -> dict:
    row = dict.fromkeys(CUR_HEADER, "")
    row.update({
        "bill/InvoiceId": "INV-1", "bill/InvoicingEntity": "Amazon Web Services, Inc.",
        "bill/BillingEntity": "AWS", "bill/PayerAccountId": "111122223333",
        "bill/BillingPeriodStartDate": "2026-11-01T00:00:00Z",
        "lineItem/UsageAccountId": "444455556666", "lineItem/LineItemType": kind,
        "lineItem/UsageStartDate": start, "lineItem/UsageEndDate": end,
        "lineItem/CurrencyCode": "USD", "lineItem/UnblendedCost": str(cost),
        "lineItem/LegalEntity": "Amazon Web Services, Inc.", "lineItem/ProductCode": "AmazonEC2",
        "product/ProductName": "Amazon Elastic Compute Cloud", "product/region": "us-east-1",
    })  # fmt: skip
    row.update(kw)
    return row


def test_cur_commitments_invoices_and_marketplace(db, rules, tmp_path):
    hour = {"lineItem/ResourceId": "i-ri", "lineItem/AvailabilityZone": "us-east-1a"}
    hour |= {"lineItem/UsageAmount": "1", "pricing/unit": "Hrs", "pricing/currency": "USD"}
    hour |= {"pricing/publicOnDemandRate": "0.096", "reservation/ReservationARN": RI}
    sp = {"lineItem/ResourceId": "i-sp", "savingsPlan/SavingsPlanARN": SP}
    rows = [
        _cur_row("DiscountedUsage", f"2026-11-02T0{h}:00:00Z", f"2026-11-02T0{h + 1}:00:00Z", 0,
                 **hour, **{"reservation/EffectiveCost": "0.05"}) for h in (0, 1)
    ] + [
        _cur_row("RIFee", "2026-11-01T00:00:00Z", "2026-11-30T23:59:59Z", 70.08,
                 **{"reservation/ReservationARN": RI, "reservation/UnusedQuantity": "120",
                    "reservation/UnusedRecurringFee": "11.52"}),
        _cur_row("SavingsPlanCoveredUsage", "2026-11-02T00:00:00Z", "2026-11-02T01:00:00Z",
                 0.2, **sp, **{"savingsPlan/SavingsPlanEffectiveCost": "0.12"}),
        _cur_row("SavingsPlanNegation", "2026-11-02T00:00:00Z", "2026-11-02T01:00:00Z", -0.2,
                 **sp),
        _cur_row("SavingsPlanRecurringFee", "2026-11-02T00:00:00Z", "2026-11-02T01:00:00Z",
                 0.15, **{"savingsPlan/SavingsPlanARN": SP,
                          "savingsPlan/TotalCommitmentToDate": "0.15",
                          "savingsPlan/UsedCommitment": "0.12"}),
        _cur_row("Usage", "2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z", 9.5,
                 **{"bill/BillingEntity": "AWS Marketplace", "bill/InvoiceId": "",
                    "lineItem/LegalEntity": "Acme Software Inc.",
                    "lineItem/ProductCode": "prod-acme",
                    "product/ProductName": "Acme Observability Pro"}),
    ]  # fmt: skip
    path = tmp_path / "cur.csv"
    with path.open("w", newline="") as fh:
        csv.DictWriter(fh, CUR_HEADER).writeheader()
        csv.DictWriter(fh, CUR_HEADER).writerows(rows)
    assert import_file(db, path, rules=rules, now=NOW).what == "AWS CUR"
    got = db.execute(
        "SELECT CommitmentDiscountType, CommitmentDiscountCategory, CommitmentDiscountStatus, "
        "SUM(BilledCost), SUM(EffectiveCost), SUM(CommitmentDiscountQuantity), "
        "MAX(CommitmentDiscountUnit), MAX(ChargePeriodEnd) FROM focus_charges "
        "WHERE CommitmentDiscountId IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 3"
    ).fetchall()
    assert got == [
        ("Reserved Instance", "Usage", "Unused", 70.08, 11.52, 120.0, "Hrs",
         "2026-11-30T23:59:59Z"),
        ("Reserved Instance", "Usage", "Used", 0.0, pytest.approx(0.1), 2.0, "Hrs",
         "2026-11-02T02:00:00Z"),
        ("Savings Plan", "Spend", "Unused", 0.15, pytest.approx(0.03), pytest.approx(0.03),
         "USD", "2026-11-02T01:00:00Z"),
        ("Savings Plan", "Spend", "Used", pytest.approx(0.0), 0.12, 0.12, "USD",
         "2026-11-02T01:00:00Z"),
    ]  # fmt: skip
    assert db.execute(
        "SELECT AvailabilityZone, ListUnitPrice, PricingCurrency FROM focus_charges "
        "WHERE ResourceId = 'i-ri'"
    ).fetchall() == [("us-east-1a", 0.096, "USD")]
    assert db.execute(
        "SELECT InvoiceId, InvoiceIssuerName, PublisherName FROM focus_charges "
        "WHERE ServiceName = 'Acme Observability Pro'"
    ).fetchall() == [(None, "Amazon Web Services, Inc.", "Acme Software Inc.")]
    (carried,) = columns_by_source(db).values()
    assert carried == {
        "CommitmentDiscountId", "CommitmentDiscountCategory", "CommitmentDiscountType",
        "CommitmentDiscountStatus", "CommitmentDiscountQuantity", "CommitmentDiscountUnit",
        "InvoiceId", "InvoiceIssuerName", "PublisherName", "AvailabilityZone", "ListUnitPrice",
        "PricingCurrency", "ChargePeriodEnd",
    }  # fmt: skip


def test_athena_cur_reservations_match_an_independent_read(db, rules, shared_fixtures):
    path = shared_fixtures / "aws/cur/wa_labs_WorkshopCUR_2018-10.snappy.parquet"
    wanted = ["line_item_line_item_type", "line_item_usage_amount"]
    wanted += ["reservation_unused_quantity", "reservation_reservation_a_r_n"]
    table = pq.read_table(path, columns=wanted).to_pylist()
    fees = [r for r in table if r["line_item_line_item_type"] == "RIFee"]
    unused = {}
    for r in fees:
        if r["reservation_unused_quantity"]:
            unused[r["reservation_reservation_a_r_n"]] = r["reservation_unused_quantity"]
    covered = sum(
        r["line_item_usage_amount"]
        for r in table
        if r["line_item_line_item_type"] == "DiscountedUsage"
    )
    import_file(db, path, rules=rules, now=NOW)
    got = db.execute(
        "SELECT commitment_discount_id, SUM(commitment_discount_quantity) FROM charge_extras "
        "WHERE commitment_discount_status = 'Unused' GROUP BY 1"
    ).fetchall()
    assert dict(got) == pytest.approx(unused)
    assert db.execute(
        "SELECT SUM(commitment_discount_quantity) FROM charge_extras "
        "WHERE commitment_discount_status = 'Used'"
    ).fetchone()[0] == pytest.approx(covered)


AZURE_HEADER = (  # noqa: SIM905
    "BillingAccountId,BillingAccountName,BillingPeriodStartDate,BillingPeriodEndDate,"
    "SubscriptionId,SubscriptionName,Date,MeterCategory,MeterName,MeterId,Quantity,"
    "EffectivePrice,Cost,UnitPrice,BillingCurrency,ResourceLocation,AvailabilityZone,"
    "ResourceId,Tags,UnitOfMeasure,ReservationId,ReservationName,PublisherName,ChargeType,"
    "PricingModel,PayGPrice,benefitId,benefitName"
).split(",")
RESERVATION = "/providers/Microsoft.Capacity/reservationOrders/o-1/reservations/r-1"
PLAN = "/providers/Microsoft.BillingBenefits/savingsPlanOrders/o-2/savingsPlans/p-1"


def _azure_row(charge_type: str, model: str, cost: float, **kw) -> dict:
    row = dict.fromkeys(AZURE_HEADER, "")
    row.update({
        "BillingAccountId": "8611537", "BillingPeriodStartDate": "11/01/2026",
        "BillingPeriodEndDate": "11/30/2026", "SubscriptionId": "sub-1", "Date": "11/02/2026",
        "MeterCategory": "Virtual Machines", "Quantity": "8", "Cost": str(cost),
        "UnitPrice": "0.146", "PayGPrice": "0.2", "BillingCurrency": "USD",
        "ResourceId": "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/"
        "virtualMachines/vm-1", "UnitOfMeasure": "1 Hour", "PublisherName": "Microsoft",
        "ChargeType": charge_type, "PricingModel": model,
    })  # fmt: skip
    row.update(kw)
    return row


def test_azure_amortized_export_commitments(db, rules, tmp_path):
    ri = {"ReservationId": "r-1", "ReservationName": "ri-one", "benefitId": RESERVATION}
    ri |= {"benefitName": "ri-one", "AvailabilityZone": "1"}
    plan = {"benefitId": PLAN, "benefitName": "plan-one"}
    rows = [
        _azure_row("Usage", "Reservation", 0.49, **ri),
        _azure_row("UnusedReservation", "Reservation", 0.51, **{**ri, "ResourceId": ""}),
        _azure_row("Usage", "SavingsPlan", 0.12, **plan),
        _azure_row("UnusedSavingsPlan", "SavingsPlan", 0.03, **{**plan, "ResourceId": ""}),
        _azure_row("Usage", "OnDemand", 1.0, MeterCategory="Storage"),
    ]
    path = tmp_path / "export_AmortizedCost_202611.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        csv.DictWriter(fh, AZURE_HEADER).writeheader()
        csv.DictWriter(fh, AZURE_HEADER).writerows(rows)
    assert import_file(db, path, rules=rules, now=NOW).result.cost_type == "amortized"
    assert db.execute(
        "SELECT CommitmentDiscountId, CommitmentDiscountName, CommitmentDiscountCategory, "
        "CommitmentDiscountType, CommitmentDiscountStatus, EffectiveCost FROM focus_charges "
        "WHERE CommitmentDiscountId IS NOT NULL ORDER BY 4, 5"
    ).fetchall() == [
        (RESERVATION, "ri-one", "Usage", "Reservation", "Unused", 0.51),
        (RESERVATION, "ri-one", "Usage", "Reservation", "Used", 0.49),
        (PLAN, "plan-one", "Spend", "Savings Plan", "Unused", 0.03),
        (PLAN, "plan-one", "Spend", "Savings Plan", "Used", 0.12),
    ]
    assert db.execute(
        "SELECT DISTINCT ListUnitPrice, ContractedUnitPrice, PublisherName FROM focus_charges"
    ).fetchall() == [(0.2, 0.146, "Microsoft")]
    assert columns_by_source(db)[f"file:{path.resolve()}"] == {
        "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountCategory",
        "CommitmentDiscountType", "CommitmentDiscountStatus", "AvailabilityZone",
        "PublisherName", "ListUnitPrice", "ContractedUnitPrice",
    }  # fmt: skip


def test_azure_pair_keeps_the_pricing_currency_cost_of_the_amortized_side(db, rules, tmp_path):
    header = [*AZURE_HEADER, "PricingCurrency", "CostInPricingCurrency"]
    ri = {"ReservationId": "r-1", "benefitId": RESERVATION, "BillingCurrency": "EUR"}
    ri |= {"PricingCurrency": "USD"}
    for kind, cost in (("ActualCost", 0.0), ("AmortizedCost", 0.49)):
        path = tmp_path / f"export_{kind}_202611.csv"
        row = _azure_row("Usage", "Reservation", cost, CostInPricingCurrency=str(cost), **ri)
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            csv.DictWriter(fh, header).writeheader()
            csv.DictWriter(fh, header).writerow(row)
        import_file(db, path, rules=rules, now=NOW)
    assert db.execute(
        "SELECT SUM(PricingCurrencyEffectiveCost), SUM(EffectiveCost), "
        "MAX(PricingCurrencyListUnitPrice), COUNT(ListUnitPrice) FROM focus_charges"
    ).fetchone() == (0.49, 0.49, 0.2, 0)  # EUR bill, USD prices: no billing-currency price


def test_real_amortized_export_names_its_reservation_and_savings_plan(db, rules, shared_fixtures):
    path = shared_fixtures / "azure/exports/finops_toolkit_EA_AmortizedCost_Small.csv"
    import_file(db, path, rules=rules, now=NOW)
    got = db.execute(
        "SELECT CommitmentDiscountCategory, CommitmentDiscountType, CommitmentDiscountStatus, "
        "CommitmentDiscountName FROM focus_charges WHERE CommitmentDiscountId IS NOT NULL "
        "ORDER BY 1"
    ).fetchall()
    assert got == [
        ("Spend", "Savings Plan", "Used", "Compute_SavingsPlan_11-07-2022_09-55"),
        ("Usage", "Reservation", "Used", "ProdDS1VMReservation"),
    ]


def test_columns_by_source_names_what_each_source_lacks(db, rules, tmp_path):
    _sync(db, rules, [{**charge("2026-11-05", 3.0), "CommitmentDiscountId": None}])
    path = write_focus(tmp_path / "a.csv", _commitment_rows("2026-11-02", 1, 2), COMMITMENT_COLUMNS)
    import_file(db, path, rules=rules, now=NOW)
    assert columns_by_source(db) == {
        "sync-x": set(),
        f"file:{path.resolve()}": {
            "CommitmentDiscountId", "CommitmentDiscountStatus", "CommitmentDiscountQuantity",
            "InvoiceId", "ChargePeriodEnd",
        },
    }  # fmt: skip


def test_bigquery_export_gives_its_zone_and_nothing_else(db, rules):
    pytest.importorskip("google.cloud.bigquery", reason="the gcp extra is not installed")
    from tests.finops_bot.sources.test_gcp_bigquery import TABLE, FakeBigQuery

    class Zoned(FakeBigQuery):
        def query(self, sql, job_config=None):
            job = super().query(sql, job_config)
            rows = job.result()
            if "location.zone AS zone" in sql:
                rows = [{**r, "zone": "us-central1-a"} for r in rows]
            return type("Job", (), {"result": lambda self_: rows})()

    fake = Zoned({"2026-11-21": "2026-11-22 01:00:00"})
    source = GcpBigQueryExport("gcp", lambda: fake, TABLE)
    assert sync_source(db, source, today=date(2026, 11, 22), now=NOW, rules=rules).ok
    assert columns_by_source(db) == {"gcp": {"AvailabilityZone"}}
