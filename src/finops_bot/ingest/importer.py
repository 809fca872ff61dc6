"""Import billing files into the cache: FOCUS 1.0 to 1.3 (CSV, CSV.gz, Parquet; any
provider), AWS CUR files and Azure cost-details exports."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlite_utils import Database

from finops_bot.errors import ImportRefused, NotBillingFile
from finops_bot.ingest.azure_export import (
    CostTypeEvidence,
    azure_columns,
    azure_to_focus,
    is_azure_export,
)
from finops_bot.ingest.commitments import (
    CommitmentReport,
    import_commitments,
    is_contract_commitment,
)
from finops_bot.ingest.cur import cur_columns, cur_to_focus, is_cur, missing_required
from finops_bot.ingest.files import (
    BillingFile,
    fingerprint,
    iter_batches,
    open_billing_file,
    prefetch,
)
from finops_bot.ingest.gpus import hint_columns
from finops_bot.ingest.normalize import FOCUS_FIELDS, REQUIRED_FIELDS, Chunk, normalize
from finops_bot.ingest.tags import TagRules
from finops_bot.store.charges import ChargeLoader, Delivery, LoadResult
from finops_bot.store.db import WriteWait
from finops_bot.store.extras import NUMBER_COLUMNS

V11_COLUMNS = {
    "CapacityReservationId",
    "CapacityReservationStatus",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit",
    "ServiceSubcategory",
    "SkuMeter",
    "SkuPriceDetails",
}
V12_COLUMNS = {
    "BillingAccountType",
    "InvoiceId",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "SubAccountType",
}
V13_COLUMNS = {  # ServiceProviderName and HostProviderName are mandatory in 1.3
    "ServiceProviderName",
    "HostProviderName",
    "AllocatedMethodId",
    "AllocatedMethodDetails",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
    "ContractApplied",
}
# FOCUS datasets that hold no costs (1.3 Contract Commitment; 1.4 Billing Period, Invoice
# Detail): the columns that tell each one apart. import_file imports a Contract Commitment
# file (ingest.commitments); a sync, and the other two datasets, refuse them
OTHER_DATASETS = {
    "Contract Commitment": {"ContractCommitmentId", "ContractId"},
    "Billing Period": {"BillingPeriodStatus"},
    "Invoice Detail": {"InvoiceDetailId"},
}
# who the provider is, in the order a FOCUS file may say it (ProviderName is deprecated in
# 1.3 and gone in 1.4, where HostProviderName names the cloud)
PROVIDER_COLUMNS = ("ProviderName", "HostProviderName", "ServiceProviderName", "InvoiceIssuerName")


@dataclass
class ImportReport:
    path: Path
    format: str
    what: str  # "FOCUS 1.2", "AWS CUR"
    result: LoadResult
    seconds: float
    notes: tuple[str, ...] = ()

    @property
    def rows_per_second(self) -> float:
        return self.result.rows_read / self.seconds if self.seconds else 0.0


def dictionary_columns(mapping: dict[str, str]) -> frozenset[str]:
    """The file's columns best read as dictionaries: all but ids and numbers."""
    dense = {
        "billed",
        "effective",
        "list",
        "consumed_quantity",
        "pricing_quantity",
        "resource_id",
        "sku_id",
        *NUMBER_COLUMNS,  # the optional extra columns' numbers (store.extras)
    }
    return frozenset(column for f, column in mapping.items() if f not in dense)


def focus_version(bf: BillingFile) -> str:
    """By which columns are present (conditional columns may be missing, so any marker
    decides; x_ columns never count)."""
    present = {c.strip() for c in bf.columns}
    if "ServiceProviderName" in present and "ProviderName" not in present:
        return "1.4"
    if present & V13_COLUMNS:
        return "1.3"
    if present & V12_COLUMNS:
        return "1.2"
    if present & V11_COLUMNS:
        return "1.1"
    return "1.0"


def focus_mapping(bf: BillingFile, default_currency: str | None = None) -> dict[str, str]:
    """FOCUS field → the file's column; refuses the file if required columns are missing."""
    mapping = {f: c for f, name in FOCUS_FIELDS.items() if (c := bf.find(name))}
    provider = next((c for name in PROVIDER_COLUMNS if (c := bf.find(name))), None)
    if provider:
        mapping["provider"] = provider
    taken = set(mapping.values())
    for f, column in hint_columns(bf.columns).items():
        if f not in mapping and column not in taken:
            mapping[f] = column
    missing = [
        FOCUS_FIELDS[f]
        for f in REQUIRED_FIELDS
        if f not in mapping and not (f == "currency" and default_currency)
    ]
    if missing:
        _refuse_other_dataset(bf)
        lowered = {c.strip().lower() for c in bf.columns}
        if {"chargeperiodstart", "billedcost", "effectivecost"}.isdisjoint(lowered):
            kind = ""
            if any(c.startswith(("lineitem/", "line_item_")) for c in lowered):
                kind = " It has CUR columns but no lineItem/UnblendedCost."
            elif {"metercategory", "subscriptionid"} & lowered:
                kind = " It has Azure columns but is not a cost-details export (Date, Cost)."
            raise NotBillingFile(
                f"{bf.path}: not a billing file: it has none of the FOCUS cost columns and is "
                f"not an AWS CUR or Azure cost-details export.{kind} The cache is unchanged."
            )
        currency_hint = (
            " --currency CODE supplies BillingCurrency for a file without the column."
            if missing == ["BillingCurrency"]
            else ""
        )
        raise ImportRefused(
            f"{bf.path}: not imported, required FOCUS columns are missing: "
            f"{', '.join(missing)}.{currency_hint} The cache is unchanged."
        )
    return mapping


def _refuse_other_dataset(bf: BillingFile) -> None:
    present = {c.strip() for c in bf.columns}
    for name, marks in OTHER_DATASETS.items():
        if marks <= present and "BilledCost" not in present:
            instead = "import the FOCUS Cost and Usage export instead"
            if name == "Contract Commitment":  # import_file takes it; a sync does not
                instead = f"import it with `python -m bot import {bf.path}`"
            raise ImportRefused(
                f"{bf.path}: not imported, this is a FOCUS {name} file (it describes "
                f"contracts or invoices and holds no charges); {instead}. The cache is "
                "unchanged."
            )


def new_delivery(cost_type: str | None = None, append: bool = False) -> Delivery:
    """One delivery: the files of one import command."""
    return Delivery(f"import-{uuid.uuid4().hex[:12]}", cost_type, append)


def import_file(
    db: Database,
    path: str | Path,
    *,
    rules: TagRules,
    now: datetime,
    strict: bool = False,
    source: str | None = None,
    currency: str | None = None,
    progress: Callable[[float], None] | None = None,
    delivery: Delivery | None = None,
    wait: WriteWait | None = None,
) -> ImportReport | CommitmentReport:
    """Import one billing file as part of ``delivery`` (default: a delivery of its own): it
    replaces what earlier deliveries held for the same partitions (see store.deliveries),
    and the same bytes imported before under another path. A FOCUS 1.3 Contract
    Commitment file replaces its source's commitments instead (no delivery)."""
    began = time.perf_counter()
    delivery = delivery or new_delivery()
    bf = open_billing_file(path)
    name = source or f"file:{bf.path.resolve()}"
    if is_contract_commitment(bf):
        return import_commitments(
            db, bf, source=name, now=now, strict=strict, currency=currency,
            progress=progress, wait=wait,
        )  # fmt: skip
    reader = file_columns(bf, currency=currency, progress=progress)
    if reader.cost_type is None:  # only Azure cost-details exports have a cost type
        delivery = replace(delivery, cost_type=None)
    result = load_columns(
        db,
        reader.batches,
        source=name,
        kind="file",
        rules=rules,
        now=now,
        strict=strict,
        currency=currency,
        path=str(bf.path.resolve()),
        fingerprint=fingerprint(bf.path),
        label=str(bf.path),
        delivery=delivery,
        cost_type=reader.cost_type,
        wait=wait,
    )
    notes = reader.notes() if reader.notes else ()
    return ImportReport(bf.path, bf.format, reader.what, result, time.perf_counter() - began, notes)


@dataclass
class FileReader:
    """A billing file's FOCUS-field column batches, what it is, and (Azure cost-details
    exports) how to tell its cost type once every batch has been read."""

    batches: Iterator[tuple[dict, int]]
    what: str
    cost_type: Callable[[Delivery], str | None] | None = None
    notes: Callable[[], tuple[str, ...]] | None = None


def file_columns(
    bf: BillingFile,
    *,
    currency: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> FileReader:
    """A billing file → its reader: FOCUS, AWS CUR or an Azure cost-details export."""
    if is_cur(bf.columns):
        missing = missing_required(bf.columns)
        if missing:
            raise ImportRefused(
                f"{bf.path}: not imported, this AWS CUR file lacks "
                f"{', '.join(missing)}. The cache is unchanged."
            )
        names = cur_columns(bf.columns)
        batches = prefetch(iter_batches(bf, sorted(set(names.values())), progress))
        return FileReader((cur_to_focus(b, names) for b in batches), "AWS CUR")
    if is_azure_export(bf.columns):
        names = azure_columns(bf.columns)
        batches = prefetch(iter_batches(bf, sorted(set(names.values())), progress))
        evidence = CostTypeEvidence(bf.path)
        return FileReader(
            (evidence.watch(azure_to_focus(b, names)) for b in batches),
            "Azure cost-details export",
            lambda delivery: evidence.decide(delivery.cost_type),
            evidence.notes,
        )
    mapping = focus_mapping(bf, currency)
    batches = prefetch(
        iter_batches(bf, sorted(set(mapping.values())), progress, dictionary_columns(mapping))
    )

    def columns() -> Iterator[tuple[dict, int]]:
        for batch in batches:  # one column may feed two fields (InvoiceIssuerName: provider)
            at = {c: i for i, c in enumerate(batch.schema.names)}
            yield (
                {f: batch.column(at[c]) for f, c in mapping.items() if c in at},
                batch.num_rows,
            )

    return FileReader(columns(), f"FOCUS {focus_version(bf)}")


def load_batches(
    db: Database, batches: Iterable[pa.RecordBatch], field_of: dict[str, str], **options: Any
) -> LoadResult:
    """Load Arrow batches whose columns are named per ``field_of`` (column → FOCUS field);
    ``options`` as for load_columns."""
    column_batches = (
        (
            {field_of[c]: b.column(i) for i, c in enumerate(b.schema.names) if c in field_of},
            b.num_rows,
        )
        for b in batches
    )
    return load_columns(db, column_batches, **options)


def load_columns(
    db: Database,
    column_batches: Iterable[tuple[dict, int]],
    *,
    source: str,
    kind: str,
    rules: TagRules,
    now: datetime,
    strict: bool = False,
    currency: str | None = None,
    path: str | None = None,
    fingerprint: str | None = None,
    label: str | None = None,
    window: tuple[date, date] | None = None,
    allow_empty: bool = False,
    delivery: Delivery | None = None,
    cost_type: Callable[[Delivery], str | None] | None = None,
    wait: WriteWait | None = None,
) -> LoadResult:
    """Normalise and load batches of FOCUS-field columns in one transaction. ``cost_type``
    tells an Azure export's cost type once all its batches are read."""
    label = label or source

    def chunks() -> Iterator[Chunk]:
        row_number = 1
        for columns, n in column_batches:
            yield normalize(
                columns,
                n,
                rules=rules,
                first_row_number=row_number,
                default_currency=currency,
            )
            row_number += n

    with ChargeLoader(
        db,
        source,
        kind=kind,
        now=now,
        path=path,
        fingerprint=fingerprint,
        window=window,
        delivery=delivery,
        wait=wait,
    ) as loader:
        # normalising stays in this thread: a CPU-bound Python thread next to executemany
        # makes every sqlite3_step wait for the GIL (a convoy); Arrow reading prefetches
        for chunk in chunks():
            if strict and chunk.bad.count:
                raise ImportRefused(
                    f"{label}: refused (--strict): {chunk.bad.describe()}. The cache is unchanged."
                )
            loader.add(chunk)
        if cost_type is not None and delivery is not None:
            loader.delivery = replace(delivery, cost_type=cost_type(delivery))
        result = loader.result
        # a file that yields nothing is refused; a sync window with no spend is a fact
        if result.rows_stored == 0 and not (allow_empty and result.bad.count == 0):
            why = f": {result.bad.describe()}" if result.bad.count else ""
            raise ImportRefused(
                f"{label}: no importable rows ({result.rows_read} read, "
                f"{result.bad.count} unreadable{why}). The cache is unchanged."
            )
    return result
