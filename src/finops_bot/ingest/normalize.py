"""One Arrow batch of billing rows → one normalised chunk at the cache's grain.

Works column-wise (Arrow casts, dictionary encoding, numpy takes): Python touches only the
distinct values (tag sets, dimension combinations), never every row, except to bind the
final rows into SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from finops_bot.ingest.tags import TagRules
from finops_bot.store.schema import KEY_COLUMNS

DAY_SECONDS = 86_400
EPOCH = np.datetime64("1970-01-01", "D")

# Fields every reader maps its own columns onto (FOCUS names here; CUR and Azure readers map
# their columns to the same fields).
FOCUS_FIELDS = {
    "start": "ChargePeriodStart",
    "end": "ChargePeriodEnd",
    "billed": "BilledCost",
    "effective": "EffectiveCost",
    "list": "ListCost",
    "currency": "BillingCurrency",
    "provider": "ProviderName",
    "billing_account_id": "BillingAccountId",
    "billing_account_name": "BillingAccountName",
    "sub_account_id": "SubAccountId",
    "sub_account_name": "SubAccountName",
    "region": "RegionId",
    "region_name": "RegionName",
    "service_name": "ServiceName",
    "service_category": "ServiceCategory",
    "charge_category": "ChargeCategory",
    "pricing_category": "PricingCategory",
    "resource_id": "ResourceId",
    "resource_type": "ResourceType",
    "sku_id": "SkuId",
    "consumed_quantity": "ConsumedQuantity",
    "consumed_unit": "ConsumedUnit",
    "pricing_quantity": "PricingQuantity",
    "pricing_unit": "PricingUnit",
    "tags": "Tags",
}
REQUIRED_FIELDS = ("start", "billed", "effective", "currency")
# key columns filled straight from a field of the same name (the rest come from tags)
PLAIN_KEY_FIELDS = tuple(c for c in KEY_COLUMNS if c not in ("project", "team", "owner"))


@dataclass
class BadRows:
    """Rows that could not be read: a count and the first few, with the reason."""

    count: int = 0
    samples: list[tuple[int, str]] = field(default_factory=list)
    limit: int = 10

    def add(self, row_numbers: np.ndarray, reasons: list[str]) -> None:
        self.count += len(row_numbers)
        room = self.limit - len(self.samples)
        for number, reason in zip(row_numbers[:room].tolist(), reasons[:room], strict=False):
            self.samples.append((int(number), reason))

    def merge(self, other: BadRows) -> None:
        self.count += other.count
        room = self.limit - len(self.samples)
        self.samples.extend(other.samples[:room])

    def describe(self, first: int = 5) -> str:
        shown = "; ".join(f"row {n}: {why}" for n, why in sorted(self.samples)[:first])
        more = f" (and {self.count - first} more)" if self.count > first else ""
        return f"{shown}{more}"


@dataclass
class Chunk:
    """Normalised rows. Dimension combinations and tag sets are coded locally."""

    rows_in: int
    days: np.ndarray  # int64 days since 1970-01-01 (UTC billing day)
    key_codes: np.ndarray  # int64 index into key_tuples
    key_tuples: list[tuple[str, ...]]  # values in KEY_COLUMNS order
    tag_codes: np.ndarray  # int64 index into tag_texts
    tag_texts: list[str]  # remaining tags as JSON ('' = none)
    resource_id: np.ndarray  # object array of str | None
    sku_id: np.ndarray
    billed: np.ndarray  # float64
    effective: np.ndarray
    list_cost: np.ndarray  # float64, NaN = not given
    consumed_quantity: np.ndarray
    pricing_quantity: np.ndarray
    subdaily: bool
    bad: BadRows
    unreadable_tags: int = 0

    @property
    def rows(self) -> int:
        return len(self.days)


def _as_strings(arr: pa.Array) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    return arr


def _to_float(arr: pa.Array | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """→ (values, unreadable mask). Nulls become NaN and are not 'unreadable'."""
    if arr is None:
        return np.full(n, np.nan), np.zeros(n, dtype=bool)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        try:
            values = pc.cast(pc.utf8_trim_whitespace(arr), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            series = pd.Series(arr.to_numpy(zero_copy_only=False), dtype=object)
            out = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
            unreadable = np.isnan(out) & series.notna().to_numpy()
            return out, unreadable
    else:
        values = pc.cast(arr, pa.float64())
    out = values.to_numpy(zero_copy_only=False)
    out = np.asarray(out, dtype=np.float64)
    unreadable = np.isinf(out)
    if values.null_count == 0:
        unreadable |= np.isnan(out)  # literal "NaN" is not a cost
    else:
        unreadable |= np.isnan(out) & pc.is_valid(values).to_numpy(zero_copy_only=False)
    return out, unreadable


def _to_seconds(arr: pa.Array | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """→ (UTC epoch seconds as float, NaN for null; unreadable mask)."""
    if arr is None:
        return np.full(n, np.nan), np.zeros(n, dtype=bool)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        # parse each distinct value once, then spread by the indices
        values, bad = _to_seconds(arr.dictionary, len(arr.dictionary))
        codes, valid = _indices(arr)
        out = np.where(valid, values[codes] if len(values) else np.nan, np.nan)
        return out, np.where(valid, bad[codes] if len(bad) else False, False)
    ts = None
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        for target in (
            pa.timestamp("s", tz="UTC"),
            pa.timestamp("s"),
            pa.timestamp("ms", tz="UTC"),
        ):
            try:
                ts = pc.cast(arr, target)
                break
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        if ts is None:
            raw = pd.Series(arr.to_numpy(zero_copy_only=False), dtype=object)
            parsed = pd.to_datetime(raw, format="ISO8601", utc=True, errors="coerce")
            missing = parsed.isna().to_numpy()
            stamps = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[s]")
            out = stamps.astype(np.int64).astype(np.float64)
            out[missing] = np.nan
            return out, missing & raw.notna().to_numpy()
    elif pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        ts = arr
    else:
        return np.full(n, np.nan), pc.is_valid(arr).to_numpy(zero_copy_only=False)
    if pa.types.is_date(ts.type):
        ts = pc.cast(pc.cast(ts, pa.date32()), pa.timestamp("s"))
    seconds = pc.cast(pc.cast(ts, pa.timestamp("s", tz=ts.type.tz)), pa.int64())
    out = seconds.to_numpy(zero_copy_only=False).astype(np.float64)
    return out, np.zeros(n, dtype=bool)


def _indices(arr: pa.DictionaryArray) -> tuple[np.ndarray, np.ndarray]:
    """A dictionary array's indices as int64 (0 where null) and its validity mask."""
    indices = arr.indices
    valid = pc.is_valid(indices).to_numpy(zero_copy_only=False)
    codes = pc.fill_null(indices, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, valid


def _encode(arr: pa.Array | None, n: int) -> tuple[np.ndarray, list[str]]:
    """Dictionary-encode a text column → (codes, distinct values); null → ''."""
    if arr is None:
        return np.zeros(n, dtype=np.int64), [""]
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        values = _as_strings(arr.dictionary).to_pylist()
        codes, valid = _indices(arr)
        if not valid.all():
            codes = np.where(valid, codes, len(values))
            values.append("")
        return codes, [v if v is not None else "" for v in values]
    arr = pc.fill_null(_as_strings(arr), "")
    encoded = arr.dictionary_encode()
    return (
        encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        encoded.dictionary.to_pylist(),
    )


def _combine(columns: list[tuple[np.ndarray, int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Combine per-column codes into one code per distinct combination.

    → (group code per row, index of the first row of each group).
    """
    combined = np.zeros(n, dtype=np.int64)
    card = 1
    for codes, size in columns:
        size = max(size, 1)
        if card * size >= 2**62:
            combined, uniques = pd.factorize(combined)
            combined = combined.astype(np.int64)
            card = max(len(uniques), 1)
        combined = combined * size + codes
        card *= size
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), first


def _text_or_none(arr: pa.Array | None, n: int) -> np.ndarray:
    if arr is None:
        return np.full(n, None, dtype=object)
    return np.asarray(_as_strings(arr).to_numpy(zero_copy_only=False), dtype=object)


def normalize(
    columns: dict[str, pa.Array | None],
    n: int,
    *,
    rules: TagRules,
    first_row_number: int,
    default_currency: str | None = None,
) -> Chunk:
    """Normalise one batch. ``columns`` maps FOCUS_FIELDS names to arrays (None = absent).

    ``first_row_number`` is the 1-based data-row number of the batch's first row, for the
    bad-row report.
    """
    get = columns.get
    bad_mask = np.zeros(n, dtype=bool)
    reasons: dict[int, str] = {}

    def flag(mask: np.ndarray, why: str, source: pa.Array | None = None) -> None:
        nonlocal bad_mask
        new = mask & ~bad_mask
        if new.any():
            for i in np.flatnonzero(new)[:10].tolist():
                value = source[i].as_py() if source is not None else None
                reasons[i] = f"{why} {value!r}" if value is not None else why
        bad_mask |= mask

    start, start_bad = _to_seconds(get("start"), n)
    flag(start_bad, "ChargePeriodStart is not a date/time:", get("start"))
    flag(np.isnan(start) & ~start_bad, "ChargePeriodStart is empty")
    end, _ = _to_seconds(get("end"), n)

    measures = {}
    for name, label, required in (
        ("billed", "BilledCost", True),
        ("effective", "EffectiveCost", True),
        ("list", "ListCost", False),
        ("consumed_quantity", "ConsumedQuantity", False),
        ("pricing_quantity", "PricingQuantity", False),
    ):
        values, unreadable = _to_float(get(name), n)
        flag(unreadable, f"{label} is not a number:", get(name))
        if required:
            flag(np.isnan(values) & ~unreadable, f"{label} is empty")
        measures[name] = values

    key_parts: list[tuple[np.ndarray, int]] = []
    dictionaries: list[list[str]] = []
    for column in PLAIN_KEY_FIELDS:
        source = get(column)
        if column == "region" and source is None:
            source = get("region_name")
        if column == "currency" and source is None and default_currency:
            source = pa.array([default_currency] * n, pa.string())
        codes, values = _encode(source, n)
        if column == "currency":
            empty = [i for i, v in enumerate(values) if not v.strip()]
            if empty:
                flag(np.isin(codes, empty), "BillingCurrency is empty")
            values = [v.strip().upper() for v in values]
        key_parts.append((codes, len(values)))
        dictionaries.append(values)

    # tags: parse each distinct tag set once
    tag_arr = get("tags")
    tag_codes_raw, tag_values = _encode(tag_arr, n)
    alloc_of_tag = np.empty(len(tag_values), dtype=np.int64)
    rest_of_tag = np.empty(len(tag_values), dtype=np.int64)
    alloc_index: dict[tuple[str, str, str], int] = {}
    rest_index: dict[str, int] = {}
    unreadable_tag_values = set()
    for i, text in enumerate(tag_values):
        a = rules.allocate(text or None)
        if not a.readable:
            unreadable_tag_values.add(i)
        alloc_of_tag[i] = alloc_index.setdefault((a.project, a.team, a.owner), len(alloc_index))
        rest_of_tag[i] = rest_index.setdefault(a.rest, len(rest_index))
    alloc_codes = alloc_of_tag[tag_codes_raw]
    key_parts.append((alloc_codes, len(alloc_index)))
    allocations = list(alloc_index)
    unreadable_tags = (
        int(np.isin(tag_codes_raw, list(unreadable_tag_values)).sum())
        if unreadable_tag_values
        else 0
    )

    keep = ~bad_mask
    bad = BadRows()
    if bad_mask.any():
        idx = np.flatnonzero(bad_mask)
        bad.add(idx + first_row_number, [reasons.get(i, "unreadable row") for i in idx.tolist()])

    def kept(a: np.ndarray) -> np.ndarray:
        return a if keep.all() else a[keep]

    key_parts = [(kept(c), size) for c, size in key_parts]
    m = int(keep.sum())
    group, first = _combine(key_parts, m)
    key_tuples = []
    for row in first.tolist():
        values = [dictionaries[j][key_parts[j][0][row]] for j in range(len(PLAIN_KEY_FIELDS))]
        values.extend(allocations[key_parts[-1][0][row]])
        key_tuples.append(tuple(values))
    # PLAIN_KEY_FIELDS are KEY_COLUMNS minus (project, team, owner), which come last
    start_k = kept(start)
    end_k = kept(end)
    days = np.floor_divide(start_k, DAY_SECONDS).astype(np.int64)
    with np.errstate(invalid="ignore"):
        subdaily = bool(
            np.any(np.mod(start_k, DAY_SECONDS) != 0) or np.any((end_k - start_k) < DAY_SECONDS)
        )
    return Chunk(
        rows_in=n,
        days=days,
        key_codes=group,
        key_tuples=key_tuples,
        tag_codes=kept(rest_of_tag[tag_codes_raw]),
        tag_texts=list(rest_index),
        resource_id=kept(_text_or_none(get("resource_id"), n)),
        sku_id=kept(_text_or_none(get("sku_id"), n)),
        billed=kept(measures["billed"]),
        effective=kept(measures["effective"]),
        list_cost=kept(measures["list"]),
        consumed_quantity=kept(measures["consumed_quantity"]),
        pricing_quantity=kept(measures["pricing_quantity"]),
        subdaily=subdaily,
        bad=bad,
        unreadable_tags=unreadable_tags,
    )


def day_strings(days: np.ndarray) -> np.ndarray:
    """int days since epoch → object array of ISO dates (formats each distinct day once)."""
    uniq, inverse = np.unique(days, return_inverse=True)
    text = np.array([str(EPOCH + int(d)) for d in uniq.tolist()], dtype=object)
    return text[inverse.reshape(-1)]
