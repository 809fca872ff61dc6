"""One Arrow batch of billing rows → one normalised chunk at the cache's grain.

Works column-wise (Arrow casts, dictionary encoding, numpy takes): Python touches only the
distinct values (tag sets, dimension combinations), never every row, except to bind the
final rows into SQLite.

A row is refused only when a required field (ChargePeriodStart, BilledCost, EffectiveCost,
BillingCurrency) cannot be read; an optional field that cannot be read is nulled, counted
and reported, and the row is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from finops_bot.days import EPOCH, day_iso
from finops_bot.ingest.columns import (
    _combine,
    _encode,
    _text_or_none,
    _to_float,
    _to_seconds,
)
from finops_bot.ingest.extra_columns import ALIAS_FIELDS, EXTRA_FIELDS, read_extras
from finops_bot.ingest.gpus import Coded, classify_rows, gpu_hours
from finops_bot.ingest.tags import TagRules
from finops_bot.store.chunk import BadRows, Chunk
from finops_bot.store.schema import KEY_COLUMNS, TAG_COLUMNS

DAY_SECONDS = 86_400
# charge times outside these years are not billing data (a "-0" or "0001-01-01" cell)
EARLIEST = (np.datetime64("1970-01-01", "s") - EPOCH.astype("datetime64[s]")).astype(np.int64)
LATEST = (np.datetime64("2200-01-01", "s") - EPOCH.astype("datetime64[s]")).astype(np.int64)

# Fields every reader maps its own columns onto (FOCUS names here; CUR and Azure readers map
# their columns to the same fields).
FOCUS_FIELDS = {
    "billing_period_start": "BillingPeriodStart",
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
    "allocated_tags": "AllocatedTags",  # FOCUS 1.3: split-cost allocation; wins over Tags
    # what names an instance type or a GPU (see ingest.gpus; other spellings of the x_
    # columns are found by gpus.hint_columns)
    "x_instance_type": "x_InstanceType",
    "sku_price_details": "SkuPriceDetails",
    "x_sku_details": "x_SkuDetails",
    "arm_sku_name": "ArmSkuName",
    "usage_type": "x_UsageType",
    "sku_meter": "SkuMeter",
    "x_sku_meter_name": "x_SkuMeterName",
    "x_sku_description": "x_SkuDescription",
    "charge_description": "ChargeDescription",
    # the optional columns kept beside the charges (store.extras), by charge_extras column
    **EXTRA_FIELDS,
    **{field: name for field, (_, name) in ALIAS_FIELDS.items()},
}
REQUIRED_FIELDS = ("start", "billed", "effective", "currency")
# key columns filled straight from a field of the same name (the GPU columns come from the
# classification, the billing period from a date, the tag columns from tags), in order
GPU_KEY_COLUMNS = ("instance_type", "gpu_model")
PLAIN_KEY_FIELDS = tuple(
    c
    for c in KEY_COLUMNS
    if c not in TAG_COLUMNS and c not in GPU_KEY_COLUMNS and c != "billing_period_start"
)
_ORDER = (*PLAIN_KEY_FIELDS, *GPU_KEY_COLUMNS, "billing_period_start", *TAG_COLUMNS)
assert _ORDER == KEY_COLUMNS, "chunks build key tuples in this order"


@dataclass
class _Problems:
    """Required fields that cannot be read refuse the row; optional ones are nulled."""

    n: int
    first_row: int
    refused: np.ndarray = field(init=False)
    reasons: dict[int, str] = field(default_factory=dict)
    nulled: dict[str, BadRows] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.refused = np.zeros(self.n, dtype=bool)

    def refuse(self, mask: np.ndarray, why: str, source: pa.Array | None = None) -> None:
        new = mask & ~self.refused
        if new.any():
            for i in np.flatnonzero(new)[:10].tolist():
                self.reasons[i] = _reason(why, source, i)
        self.refused |= mask

    def null(self, label: str, mask: np.ndarray, source: pa.Array | None) -> None:
        if not mask.any():
            return
        rows = np.flatnonzero(mask)
        bad = self.nulled.setdefault(label, BadRows())
        bad.add(
            rows + self.first_row,
            [_reason(f"{label} is not readable:", source, i) for i in rows[: bad.limit].tolist()],
        )

    def bad_rows(self) -> BadRows:
        bad = BadRows()
        if self.refused.any():
            idx = np.flatnonzero(self.refused)
            reasons = [self.reasons.get(i, "unreadable row") for i in idx.tolist()]
            bad.add(idx + self.first_row, reasons)
        return bad


def _reason(why: str, source: pa.Array | None, i: int) -> str:
    value = source[i].as_py() if source is not None else None
    return f"{why} {value!r}" if value is not None else why


def _implausible(seconds: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return ~np.isnan(seconds) & ((seconds < EARLIEST) | (seconds >= LATEST))


def _times(get, n: int, problems: _Problems) -> tuple[np.ndarray, np.ndarray]:
    start, start_bad = _to_seconds(get("start"), n)
    problems.refuse(start_bad, "ChargePeriodStart is not a date/time:", get("start"))
    problems.refuse(np.isnan(start) & ~start_bad, "ChargePeriodStart is empty")
    problems.refuse(_implausible(start), "ChargePeriodStart is not 1970-2199:", get("start"))
    end, end_bad = _to_seconds(get("end"), n)
    end_bad |= _implausible(end)
    problems.null("ChargePeriodEnd", end_bad, get("end"))
    return start, np.where(end_bad, np.nan, end)


def _measures(get, n: int, problems: _Problems) -> dict[str, np.ndarray]:
    measures = {}
    for name, label, required in (
        ("billed", "BilledCost", True),
        ("effective", "EffectiveCost", True),
        ("list", "ListCost", False),
        ("consumed_quantity", "ConsumedQuantity", False),
        ("pricing_quantity", "PricingQuantity", False),
    ):
        values, unreadable = _to_float(get(name), n)
        if required:
            problems.refuse(unreadable, f"{label} is not a number:", get(name))
            problems.refuse(np.isnan(values) & ~unreadable, f"{label} is empty")
        else:
            problems.null(label, unreadable, get(name))
            values = np.where(unreadable, np.nan, values)
        measures[name] = values
    return measures


def _billing_periods(get, n: int, start: np.ndarray, problems: _Problems):
    """BillingPeriodStart as an ISO date per row; the UTC month of ChargePeriodStart where
    the file has none. → (codes, distinct values)."""
    period, unreadable = _to_seconds(get("billing_period_start"), n)
    unreadable |= _implausible(period)
    problems.null("BillingPeriodStart", unreadable, get("billing_period_start"))
    period = np.where(unreadable, np.nan, period)
    charge_day = np.floor_divide(np.nan_to_num(start), DAY_SECONDS).astype(np.int64)
    month = ((EPOCH + charge_day).astype("datetime64[M]").astype("datetime64[D]") - EPOCH).astype(
        np.int64
    )
    given = ~np.isnan(period)
    days = np.where(given, np.floor_divide(np.nan_to_num(period), DAY_SECONDS), month)
    uniq, codes = np.unique(days.astype(np.int64), return_inverse=True)
    return codes.astype(np.int64).reshape(-1), [day_iso(d) for d in uniq.tolist()]


def _plain_keys(get, n: int, problems: _Problems, default_currency: str | None):
    parts: list[tuple[np.ndarray, int]] = []
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
                problems.refuse(np.isin(codes, empty), "BillingCurrency is empty")
            values = [v.strip().upper() for v in values]
        parts.append((codes, len(values)))
        dictionaries.append(values)
    return parts, dictionaries


_FIELD_INDEX = {c: i for i, c in enumerate(PLAIN_KEY_FIELDS)}


def _gpu_keys(get, n: int, measures, key_parts: list, dictionaries: list) -> np.ndarray:
    """Append the instance type and GPU model to the key columns; → GPU-hours per row,
    from the units and ChargeCategory already coded for the keys."""
    gpus = classify_rows(get, n)
    key_parts += [(gpus.instance_codes, len(gpus.instance_values))]
    key_parts += [(gpus.model_codes, len(gpus.model_values))]

    def coded(column: str) -> Coded:
        i = _FIELD_INDEX[column]
        return Coded(key_parts[i][0], dictionaries[i])

    hours = gpu_hours(
        gpus.hour_gpus,
        (measures["consumed_quantity"], measures["pricing_quantity"]),
        (coded("consumed_unit"), coded("pricing_unit")),
        coded("charge_category"),
    )
    dictionaries += [gpus.instance_values, gpus.model_values]
    return hours


@dataclass
class _Tags:
    alloc_codes: np.ndarray  # per row → index into allocations
    allocations: list[tuple[str, str, str, str]]  # project, team, owner, dims
    rest_codes: np.ndarray  # per row → index into rest_texts
    rest_texts: list[str]
    unreadable: int


def _tags(get, n: int, rules: TagRules) -> _Tags:
    """Allocation columns and the remaining tags, parsing each distinct tag set once.
    FOCUS 1.3 AllocatedTags (split-cost allocation) win over Tags for the allocation
    columns; both are kept."""
    tag_codes, tag_values = _encode(get("tags"), n)
    allocated = get("allocated_tags")
    if allocated is not None:
        alloc_codes, alloc_values = _encode(allocated, n)
        group, first = _combine([(tag_codes, len(tag_values)), (alloc_codes, len(alloc_values))], n)
        pairs = [(tag_values[tag_codes[i]], alloc_values[alloc_codes[i]]) for i in first.tolist()]
    else:
        group = tag_codes
        pairs = [(text, "") for text in tag_values]
    alloc_of = np.empty(len(pairs), dtype=np.int64)
    rest_of = np.empty(len(pairs), dtype=np.int64)
    alloc_index: dict[tuple[str, str, str, str], int] = {}
    rest_index: dict[str, int] = {}
    unreadable = []
    for i, (text, split) in enumerate(pairs):
        a = rules.allocate(text or None, split or None)
        if not a.readable:
            unreadable.append(i)
        alloc = (a.project, a.team, a.owner, a.dims)
        alloc_of[i] = alloc_index.setdefault(alloc, len(alloc_index))
        rest_of[i] = rest_index.setdefault(a.rest, len(rest_index))
    return _Tags(
        alloc_of[group],
        list(alloc_index),
        rest_of[group],
        list(rest_index),
        int(np.isin(group, unreadable).sum()) if unreadable else 0,
    )


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
    problems = _Problems(n, first_row_number)
    start, end = _times(get, n, problems)
    measures = _measures(get, n, problems)
    key_parts, dictionaries = _plain_keys(get, n, problems, default_currency)
    hours = _gpu_keys(get, n, measures, key_parts, dictionaries)
    period_codes, periods = _billing_periods(get, n, start, problems)
    tags = _tags(get, n, rules)
    keep = ~problems.refused

    def kept(a: np.ndarray) -> np.ndarray:
        return a if keep.all() else a[keep]

    parts = [(kept(c), size) for c, size in key_parts]
    parts += [(kept(period_codes), len(periods)), (kept(tags.alloc_codes), len(tags.allocations))]
    group, first = _combine(parts, int(keep.sum()))
    # one combination per group, built column by column (numpy takes, then one zip)
    columns = [
        np.asarray(values, dtype=object)[codes[first]].tolist()
        for (codes, _), values in zip(parts, [*dictionaries, periods], strict=False)
    ]
    allocations = np.empty(len(tags.allocations), dtype=object)
    allocations[:] = tags.allocations
    columns.append(allocations[parts[-1][0][first]].tolist())
    key_tuples = [(*row[:-1], *row[-1]) for row in zip(*columns, strict=True)]
    more = read_extras(get, n, start, end, keep, problems.null)
    start_k, end_k = kept(start), kept(end)
    with np.errstate(invalid="ignore"):
        subdaily = bool(
            np.any(np.mod(start_k, DAY_SECONDS) != 0) or np.any((end_k - start_k) < DAY_SECONDS)
        )
    return Chunk(
        rows_in=n,
        days=np.floor_divide(start_k, DAY_SECONDS).astype(np.int64),
        starts=start_k.astype(np.int64),
        key_codes=group,
        key_tuples=key_tuples,
        tag_codes=kept(tags.rest_codes),
        tag_texts=tags.rest_texts,
        resource_id=kept(_text_or_none(get("resource_id"), n)),
        sku_id=kept(_text_or_none(get("sku_id"), n)),
        billed=kept(measures["billed"]),
        effective=kept(measures["effective"]),
        list_cost=kept(measures["list"]),
        consumed_quantity=kept(measures["consumed_quantity"]),
        pricing_quantity=kept(measures["pricing_quantity"]),
        subdaily=subdaily,
        bad=problems.bad_rows(),
        unreadable_tags=tags.unreadable,
        nulled=problems.nulled,
        gpu_hours=kept(hours),
        extras=more,
    )
