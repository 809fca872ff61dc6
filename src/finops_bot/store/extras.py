"""The optional FOCUS columns kept beside the facts (m020 ``charge_extras``): commitment
discounts, invoices, publishers, zones, unit prices, capacity reservations.

A load writes a row only for a charge that has one of them, in its own transaction, and
records in ``load_columns`` which ones its file carried, so a question can say which sources
cannot answer it. At the daily grain the text columns join the roll-up key (Used and Unused
of one commitment on one day never merge), quantities and costs are summed, unit prices
kept where the rows agree, and ChargePeriodEnd is the latest of the rows'. A charge that
ends with its UTC day stores no ChargePeriodEnd: that is what the day says already.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
from sqlite_utils import Database

from finops_bot.store.chunk import ChunkExtras

DAY_SECONDS = 86_400
# charge_extras column → FOCUS column, by how a roll-up treats them
TEXT_COLUMNS = {
    "commitment_discount_id": "CommitmentDiscountId",
    "commitment_discount_name": "CommitmentDiscountName",
    "commitment_discount_category": "CommitmentDiscountCategory",
    "commitment_discount_type": "CommitmentDiscountType",
    "commitment_discount_status": "CommitmentDiscountStatus",
    "commitment_discount_unit": "CommitmentDiscountUnit",
    "charge_class": "ChargeClass",
    "invoice_id": "InvoiceId",
    "invoice_issuer_name": "InvoiceIssuerName",
    "publisher_name": "PublisherName",
    "service_subcategory": "ServiceSubcategory",
    "availability_zone": "AvailabilityZone",
    "pricing_currency": "PricingCurrency",
    "capacity_reservation_id": "CapacityReservationId",
    "capacity_reservation_status": "CapacityReservationStatus",
}
SUMMED_COLUMNS = {
    "commitment_discount_quantity": "CommitmentDiscountQuantity",
    "contracted_cost": "ContractedCost",
    "pricing_currency_effective_cost": "PricingCurrencyEffectiveCost",
}
PRICE_COLUMNS = {  # a roll-up's: the rows' own where they agree, else weighted (roll_up)
    "contracted_unit_price": "ContractedUnitPrice",
    "list_unit_price": "ListUnitPrice",
    "pricing_currency_list_unit_price": "PricingCurrencyListUnitPrice",
    "pricing_currency_contracted_unit_price": "PricingCurrencyContractedUnitPrice",
}
NUMBER_COLUMNS = {**SUMMED_COLUMNS, **PRICE_COLUMNS}
END_COLUMN = ("charge_period_end", "ChargePeriodEnd")
FOCUS_NAMES = {**TEXT_COLUMNS, **NUMBER_COLUMNS, END_COLUMN[0]: END_COLUMN[1]}


def columns_by_source(db: Database | sqlite3.Connection) -> dict[str, set[str]]:
    """Source name → the FOCUS columns (of FOCUS_NAMES) any of its live loads carried; a
    source whose loads carried none (Cost Explorer) maps to an empty set."""
    out: dict[str, set[str]] = {
        source: set()
        for (source,) in db.execute("SELECT DISTINCT source FROM loads WHERE rows > 0").fetchall()
    }
    for source, column in db.execute(
        "SELECT DISTINCT l.source, lc.column FROM load_columns lc "
        "JOIN loads l ON l.id = lc.load_id WHERE l.rows > 0"
    ).fetchall():
        out.setdefault(source, set()).add(column)
    return out


def frame_columns(extras: ChunkExtras) -> dict[str, np.ndarray]:
    """The loader frame's extra columns: the text code ``x``, the numbers, the end."""
    columns = {"x": extras.codes, **extras.numbers}
    if extras.end is not None:
        columns["end"] = extras.end
    return columns


_TIMES_PQ = "pq×"


def with_products(frame: pd.DataFrame, extras: ChunkExtras) -> pd.DataFrame:
    """The frame with each carried price × PricingQuantity, for ``roll_up``."""
    prices = [c for c in PRICE_COLUMNS if c in extras.numbers]
    if not prices:
        return frame
    return frame.assign(**{_TIMES_PQ + c: frame[c] * frame["pq"] for c in prices})


def roll_up(groups, extras: ChunkExtras) -> list[pd.DataFrame]:
    """The extra columns of a day roll-up (``groups``: grouped by the key, ``x`` included)."""
    parts = []
    summed = [c for c in SUMMED_COLUMNS if c in extras.numbers]
    if summed:
        parts.append(groups[summed].sum(min_count=1))
    prices = [c for c in PRICE_COLUMNS if c in extras.numbers]
    if prices:  # where the rows disagree, Σ price × PricingQuantity ÷ Σ PricingQuantity:
        # what a day's price × its quantity must give back (the library's list, contracted
        # and savings sums); null where it has no quantity
        low, high = groups[prices].min(), groups[prices].max()
        quantity = groups["pq"].sum(min_count=1)
        mean = groups[[_TIMES_PQ + c for c in prices]].sum(min_count=1)
        mean = mean.div(quantity.where(quantity != 0), axis=0).set_axis(prices, axis=1)
        parts.append(low.where(low == high, mean))
    if extras.end is not None:
        parts.append(groups[["end"]].max())
    return parts


def write(conn: sqlite3.Connection, frame: pd.DataFrame, first_id: int, extras: ChunkExtras):
    """charge_extras rows for the frame's charges (ids ``first_id`` on) that have any. Only
    the columns the chunk carries are bound: a NULL parameter costs as much as a value."""
    codes = frame["x"].to_numpy(dtype=np.int64)
    texts = np.empty((len(extras.texts), len(TEXT_COLUMNS)), dtype=object)
    texts[:] = extras.texts
    carried = [i for i in range(len(TEXT_COLUMNS)) if any(v is not None for v in texts[:, i])]
    has = (texts[:, carried] != None).any(axis=1)[codes]  # noqa: E711
    numbers = {c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in extras.numbers}
    for values in numbers.values():
        has |= ~np.isnan(values)
    ends = None
    if extras.end is not None:
        end = frame["end"].to_numpy(dtype=np.float64, na_value=np.nan)
        day_end = (frame["day"].to_numpy(dtype=np.int64) + 1) * DAY_SECONDS
        elsewhere = ~np.isnan(end) & (end != day_end)
        ends = np.full(len(frame), None, dtype=object)
        stamps = np.nan_to_num(end[elsewhere]).astype(np.int64).astype("datetime64[s]")
        ends[elsewhere] = np.char.add(np.datetime_as_string(stamps, unit="s"), "Z")
        has |= elsewhere
    at = np.flatnonzero(has)
    if not len(at):
        return
    names = [*(list(TEXT_COLUMNS)[i] for i in carried), *numbers]
    rows = texts[codes[at]]
    columns = [(at + first_id).tolist(), *(rows[:, i].tolist() for i in carried)]
    columns += [_nullable(values[at]) for values in numbers.values()]
    if ends is not None:
        names.append(END_COLUMN[0])
        columns.append(ends[at].tolist())
    conn.executemany(
        f"INSERT INTO charge_extras (charge_id, {', '.join(names)}) "
        f"VALUES ({','.join('?' * (len(names) + 1))})",
        zip(*columns, strict=True),
    )


def _nullable(values: np.ndarray) -> list:
    return [None if v != v else v for v in values.tolist()]


def record(conn: sqlite3.Connection, load_id: int, carried: set[str]) -> None:
    """The FOCUS columns a load carried."""
    conn.executemany(
        "INSERT OR IGNORE INTO load_columns (load_id, column) VALUES (?, ?)",
        [(load_id, name) for name in sorted(carried)],
    )


def merged_side(conn: sqlite3.Connection, first: int, last: int, marks: str, keys, kind: str):
    """An Azure export merged with its other cost type keeps only its own measures: the
    actual side no pricing-currency EffectiveCost, the amortised side no ContractedCost nor
    CommitmentDiscountQuantity (the actual side's, as BilledCost and quantities are)."""
    assignments = (
        "pricing_currency_effective_cost = NULL"
        if kind == "actual"
        else "contracted_cost = NULL, commitment_discount_quantity = NULL"
    )
    conn.execute(
        f"UPDATE charge_extras SET {assignments} WHERE charge_id BETWEEN ? AND ? AND charge_id "
        f"IN (SELECT id FROM charges WHERE id BETWEEN ? AND ? AND key_id IN ({marks}))",
        (first, last, first, last, *keys),
    )
