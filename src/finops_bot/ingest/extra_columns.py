"""The optional FOCUS columns kept beside the charges (store.extras), read from one batch.

A batch with none of them (or none with a value) gives None and costs nothing more; the
only check every batch pays is whether some ChargePeriodEnd falls elsewhere than at the end
of its UTC day, on the times the normaliser parsed already.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from finops_bot.ingest.columns import _combine, _encode, _to_float
from finops_bot.store.chunk import ChunkExtras
from finops_bot.store.extras import END_COLUMN, NUMBER_COLUMNS, TEXT_COLUMNS

DAY_SECONDS = 86_400
# FOCUS field (ingest.normalize.FOCUS_FIELDS key; the charge_extras column) → FOCUS column
EXTRA_FIELDS = {**TEXT_COLUMNS, **NUMBER_COLUMNS}
# other spellings of the same column, tried when the FOCUS one is absent: Microsoft's FOCUS
# 1.0 exports carry the invoice and the pricing currency as x_ columns (1.2 added both)
ALIAS_FIELDS = {
    "x_invoice_id": ("invoice_id", "x_InvoiceId"),
    "x_pricing_currency": ("pricing_currency", "x_PricingCurrency"),
}
_ALIAS_OF = {target: alias for alias, (target, _) in ALIAS_FIELDS.items()}
# columns with allowed values: any case or spacing → the spec's spelling (readers compare
# them as written in the spec)
ALLOWED = {
    "commitment_discount_status": ("Used", "Unused"),
    "capacity_reservation_status": ("Used", "Unused"),
    "commitment_discount_category": ("Spend", "Usage"),
    "charge_class": ("Correction",),
}

Get = Callable[[str], pa.Array | None]
Null = Callable[[str, np.ndarray, pa.Array | None], None]


def read_extras(
    get: Get, n: int, start: np.ndarray, end: np.ndarray, keep: np.ndarray, null: Null
) -> ChunkExtras | None:
    """The kept rows' extra columns; ``null(label, mask, source)`` reports an unreadable
    number (nulled, the row kept)."""
    every = bool(keep.all())
    rows = n if every else int(keep.sum())

    def kept(a: np.ndarray) -> np.ndarray:
        return a if every else a[keep]

    carried: set[str] = set()
    texts = _texts(get, n, kept, carried)
    numbers = {}
    for column, name in NUMBER_COLUMNS.items():
        source = get(column)
        if source is None:
            continue
        values, unreadable = _to_float(source, n)
        if unreadable.any():
            null(name, unreadable, source)
            values = np.where(unreadable, np.nan, values)
        values = kept(values)
        if not np.isnan(values).all():
            numbers[column] = values
            carried.add(name)
    ends = _ends(kept(start), kept(end))
    if ends is not None:
        carried.add(END_COLUMN[1])
    if not carried:
        return None
    codes, tuples = _code_texts(texts, rows)
    return ChunkExtras(codes, tuples, numbers, ends, frozenset(carried))


def _texts(get: Get, n: int, kept, carried: set[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(column, codes of the kept rows, distinct values) of each text column with a value;
    one code per stored value: '' and null, "used" and "Used" are one."""
    out = []
    for column, name in TEXT_COLUMNS.items():
        source = get(column)
        if source is None and column in _ALIAS_OF:
            source = get(_ALIAS_OF[column])
        if source is None:
            continue
        codes, values = _encode(source, n)
        index: dict[str | None, int] = {}
        recode = np.array(
            [index.setdefault(_spelling(column, v), len(index)) for v in values], dtype=np.int64
        )
        codes = recode[kept(codes)]
        texts = np.empty(len(index), dtype=object)
        texts[:] = list(index)
        if np.isin(np.flatnonzero(texts != None), codes).any():  # noqa: E711
            carried.add(name)
            out.append((column, codes, texts))
    return out


def _spelling(column: str, value: str) -> str | None:
    """None for an empty value; an allowed value in the spec's spelling."""
    if not value or not value.strip():
        return None
    allowed = ALLOWED.get(column)
    if allowed:
        wanted = value.strip().lower()
        return next((a for a in allowed if a.lower() == wanted), value)
    return value


def _ends(start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """ChargePeriodEnd when some row's falls elsewhere than at the end of its UTC day."""
    if np.isnan(end).all():
        return None
    with np.errstate(invalid="ignore"):
        day_end = (np.floor_divide(start, DAY_SECONDS) + 1) * DAY_SECONDS
        elsewhere = ~np.isnan(end) & (end != day_end)
    return end if elsewhere.any() else None


def _code_texts(
    texts: list[tuple[str, np.ndarray, np.ndarray]], rows: int
) -> tuple[np.ndarray, list[tuple[str | None, ...]]]:
    """One code per distinct combination of the text columns → (codes, combinations in
    TEXT_COLUMNS order, None where absent)."""
    if not texts:
        return np.zeros(rows, dtype=np.int64), [(None,) * len(TEXT_COLUMNS)]
    group, first = _combine([(codes, len(values)) for _, codes, values in texts], rows)
    position = {column: i for i, column in enumerate(TEXT_COLUMNS)}
    combos = np.full((len(first), len(TEXT_COLUMNS)), None, dtype=object)
    for column, codes, values in texts:
        combos[:, position[column]] = values[codes[first]]
    return group, [tuple(row) for row in combos.tolist()]
