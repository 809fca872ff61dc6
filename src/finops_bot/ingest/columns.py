"""Arrow columns → numpy values, column-wise: casts, dictionary codes, parsing each distinct
value once. Nulls and unreadable values are told apart, so a caller can refuse a row or null
a field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


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
