"""FOCUS 1.3 Contract Commitment files (CSV, CSV.gz, Parquet) → the commitments table.

A row is refused (counted, the first few named by row number from the first data row, as
the cost importer does) when its ContractCommitmentId is empty, a commitment period bound
is not a date/time in 1970-2199, its end is not after its start, its cost or quantity is
not a number, it has neither, a cost comes without a currency, or it repeats an earlier
row's id and period start. An unreadable contract period bound is stored empty, counted,
and the row kept."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from sqlite_utils import Database

from finops_bot.days import day_iso
from finops_bot.errors import ImportRefused
from finops_bot.ingest.columns import _text_or_none, _to_float, _to_seconds
from finops_bot.ingest.files import BillingFile, iter_batches
from finops_bot.ingest.normalize import DAY_SECONDS, EARLIEST, LATEST
from finops_bot.store import commitments as store
from finops_bot.store.chunk import BadRows
from finops_bot.store.commitments import Terms
from finops_bot.store.db import WriteWait

WHAT = "FOCUS 1.3 Contract Commitment"
# Terms field → the FOCUS 1.3 Contract Commitment dataset's column
COLUMNS = {
    "id": "ContractCommitmentId",
    "type": "ContractCommitmentType",
    "category": "ContractCommitmentCategory",
    "description": "ContractCommitmentDescription",
    "period_start": "ContractCommitmentPeriodStart",
    "period_end": "ContractCommitmentPeriodEnd",
    "cost": "ContractCommitmentCost",
    "currency": "BillingCurrency",
    "quantity": "ContractCommitmentQuantity",
    "unit": "ContractCommitmentUnit",
    "contract_id": "ContractId",
    "contract_period_start": "ContractPeriodStart",
    "contract_period_end": "ContractPeriodEnd",
}
REQUIRED = ("id", "period_start", "period_end")
TEXT = ("id", "type", "category", "description", "currency", "unit", "contract_id")
DATES = ("period_start", "period_end", "contract_period_start", "contract_period_end")


@dataclass
class CommitmentReport:
    """What importing one Contract Commitment file did."""

    path: Path
    format: str
    source: str
    rows_read: int
    rows_stored: int
    replaced: store.Replaced
    bad: BadRows
    nulled: dict[str, BadRows]
    first_end: str
    last_end: str
    seconds: float
    what: str = WHAT

    def summary(self) -> str:
        """The one-line summary the import command prints."""
        again = []
        if self.replaced.rows:
            again.append(f"replaced the {_count(self.replaced.rows, 'row')} it held before")
        if self.replaced.copies:
            names = ", ".join(s.removeprefix("file:") for s in self.replaced.copies)
            again.append(f"dropped the same rows imported from {names}")
        told = f"; {' and '.join(again)} (no doubling)" if again else ""
        return (
            f"Imported {_count(self.rows_stored, 'commitment')} ({self.what}, {self.format}) "
            f"from {self.path}: {_count(self.rows_read, 'row')} read, {self.bad.count:,} "
            f"refused, periods ending {self.first_end} … {self.last_end}, "
            f"{self.seconds:.1f} s{told}"
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def is_contract_commitment(bf: BillingFile) -> bool:
    """A Contract Commitment dataset: it names commitments and holds no charges."""
    return bool(bf.find("ContractCommitmentId")) and not bf.find("BilledCost")


def import_commitments(
    db: Database,
    bf: BillingFile,
    *,
    source: str,
    now: datetime,
    strict: bool = False,
    currency: str | None = None,
    progress: Callable[[float], None] | None = None,
    wait: WriteWait | None = None,
) -> CommitmentReport:
    """Read the file and make its rows ``source``'s commitments (one transaction); refuses
    a file without the required columns or without one importable row."""
    began = time.perf_counter()
    read = read_commitments(bf, currency=currency, progress=progress)
    why = f": {read.bad.describe()}" if read.bad.count else ""
    if strict and read.bad.count:
        raise ImportRefused(f"{bf.path}: refused (--strict){why}. The cache is unchanged.")
    if not read.terms:
        raise ImportRefused(
            f"{bf.path}: no importable commitments ({read.rows:,} read, {read.bad.count:,} "
            f"unreadable{why}). The cache is unchanged."
        )
    replaced = store.replace(db, source, read.terms, now.isoformat(timespec="seconds"), wait)
    ends = sorted(t.period_end for t in read.terms)
    return CommitmentReport(
        bf.path,
        bf.format,
        source,
        read.rows,
        len(read.terms),
        replaced,
        read.bad,
        read.nulled,
        ends[0],
        ends[-1],
        time.perf_counter() - began,
    )


@dataclass
class Read:
    """A Contract Commitment file's rows: the readable ones and what was not."""

    terms: list[Terms] = field(default_factory=list)
    rows: int = 0
    bad: BadRows = field(default_factory=BadRows)
    nulled: dict[str, BadRows] = field(default_factory=dict)
    seen: dict[tuple[str, str], int] = field(default_factory=dict)  # (id, start) → row


def read_commitments(
    bf: BillingFile,
    *,
    currency: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> Read:
    """Every row of the file as Terms, the unreadable ones counted and named."""
    mapping = {f: c for f, name in COLUMNS.items() if (c := bf.find(name))}
    missing = [COLUMNS[f] for f in REQUIRED if f not in mapping]
    if missing:
        raise ImportRefused(
            f"{bf.path}: not imported, this {WHAT} file lacks {', '.join(missing)}. "
            "The cache is unchanged."
        )
    field_of = {c: f for f, c in mapping.items()}
    out = Read()
    for batch in iter_batches(bf, sorted(set(mapping.values())), progress):
        columns = {field_of[c]: batch.column(i) for i, c in enumerate(batch.schema.names)}
        _read_batch(columns, batch.num_rows, out, currency)
    return out


def _read_batch(columns: dict[str, pa.Array], n: int, out: Read, currency: str | None) -> None:
    get = columns.get
    text = {f: _text_or_none(get(f), n) for f in TEXT}
    dates = {f: _dates(get(f), n) for f in DATES}
    numbers = {f: _to_float(get(f), n) for f in ("cost", "quantity")}
    for i in range(n):
        row = out.rows + i + 1
        values = {f: _clean(text[f][i]) for f in TEXT}
        values["currency"] = values["currency"] or currency
        why = _refusal(values, dates, numbers, get, i)
        if why is None:
            key = (values["id"], dates["period_start"][0][i])
            if key in out.seen:
                why = f"{COLUMNS['id']} {key[0]!r} repeats row {out.seen[key]} (same period start)"
            else:
                out.seen[key] = row
        if why is not None:
            out.bad.add(np.array([row]), [why])
            continue
        for f in DATES:
            values[f] = dates[f][0][i]
            if dates[f][1][i]:  # only a contract period bound gets here unreadable
                _null(out, COLUMNS[f], row, get(f), i)
        for f in ("cost", "quantity"):
            values[f] = None if np.isnan(numbers[f][0][i]) else float(numbers[f][0][i])
        out.terms.append(Terms(**values))
    out.rows += n


def _refusal(values: dict, dates: dict, numbers: dict, get, i: int) -> str | None:
    """Why row ``i`` cannot be stored, or None."""
    if not values["id"]:
        return f"{COLUMNS['id']} is empty"
    for f in ("period_start", "period_end"):
        day, unreadable = dates[f][0][i], dates[f][1][i]
        if unreadable:
            return f"{COLUMNS[f]} is not a date/time in 1970-2199: {_cell(get(f), i)!r}"
        if day is None:
            return f"{COLUMNS[f]} is empty"
    if dates["period_end"][2][i] <= dates["period_start"][2][i]:
        return (
            f"{COLUMNS['period_end']} {_cell(get('period_end'), i)!r} is not after "
            f"{COLUMNS['period_start']} {_cell(get('period_start'), i)!r}"
        )
    for f in ("cost", "quantity"):
        if numbers[f][1][i]:
            return f"{COLUMNS[f]} is not a number: {_cell(get(f), i)!r}"
    cost, quantity = numbers["cost"][0][i], numbers["quantity"][0][i]
    if np.isnan(cost) and np.isnan(quantity):
        return f"{COLUMNS['cost']} and {COLUMNS['quantity']} are both empty"
    if not np.isnan(cost) and not values["currency"]:
        return f"{COLUMNS['currency']} is empty (give --currency CODE for a file without it)"
    return None


def _dates(arr: pa.Array | None, n: int) -> tuple[list[str | None], np.ndarray, np.ndarray]:
    """→ (UTC ISO date or None per row, unreadable mask, seconds); years outside
    1970-2199 are unreadable."""
    seconds, unreadable = _to_seconds(arr, n)
    with np.errstate(invalid="ignore"):
        unreadable = unreadable | (
            ~np.isnan(seconds) & ((seconds < EARLIEST) | (seconds >= LATEST))
        )
    days = [
        None if bad or np.isnan(s) else day_iso(int(s // DAY_SECONDS))
        for s, bad in zip(seconds.tolist(), unreadable.tolist(), strict=True)
    ]
    return days, unreadable, seconds


def _null(out: Read, label: str, row: int, source: pa.Array | None, i: int) -> None:
    bad = out.nulled.setdefault(label, BadRows())
    bad.add(np.array([row]), [f"{label} is not a date/time in 1970-2199: {_cell(source, i)!r}"])


def _cell(arr: pa.Array | None, i: int) -> object:
    return None if arr is None else arr[i].as_py()


def _clean(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None
