"""AWS Cost and Usage Report (legacy CUR) → FOCUS-named columns.

Two spellings exist: the CSV style (``lineItem/UnblendedCost``, ``resourceTags/user:Project``)
and the Athena/Parquet style (``line_item_unblended_cost``, ``resource_tags_user_project``).
Column sets drift from month to month (a column appears, another goes), so every column
is optional except the few listed in CUR_REQUIRED.

EffectiveCost is amortised the way AWS defines it: usage covered by a reservation or a
savings plan costs its effective rate; the upfront and recurring fees count only for their
unused part; savings-plan negation lines cancel out.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# FOCUS field (ingest.normalize.FOCUS_FIELDS keys) → CUR column, in the CSV spelling
CUR_COLUMNS = {
    "billing_period_start": "bill/BillingPeriodStartDate",
    "start": "lineItem/UsageStartDate",
    "end": "lineItem/UsageEndDate",
    "billed": "lineItem/UnblendedCost",
    "currency": "lineItem/CurrencyCode",
    "billing_account_id": "bill/PayerAccountId",
    "sub_account_id": "lineItem/UsageAccountId",
    "region": "product/region",
    "service_name": "product/ProductName",
    "resource_id": "lineItem/ResourceId",
    "sku_id": "product/sku",
    "consumed_quantity": "lineItem/UsageAmount",
    "pricing_unit": "pricing/unit",
}
EXTRA_COLUMNS = [
    "lineItem/LineItemType",
    "lineItem/UsageType",
    "lineItem/ProductCode",
    "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
    "pricing/publicOnDemandCost",
    "product/productFamily",
    "pricing/term",
    "product/instanceType",
]
CUR_REQUIRED = ["lineItem/UsageStartDate", "lineItem/UnblendedCost", "lineItem/LineItemType"]
TAG_PREFIXES = ("resourceTags/", "resource_tags_")


def athena_name(csv_name: str) -> str:
    """lineItem/UnblendedCost → line_item_unblended_cost (the Parquet/Athena spelling)."""
    category, _, name = csv_name.partition("/")
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", category).lower()
    field = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace(":", "_")
    return f"{snake}_{field}"


def is_cur(columns: list[str]) -> bool:
    names = {c.strip() for c in columns}
    return "lineItem/UnblendedCost" in names or "line_item_unblended_cost" in names


def cur_columns(columns: list[str]) -> dict[str, str]:
    """Our CUR column names (CSV spelling) → the file's own column, for those present."""
    present = {c.strip(): c for c in columns}
    lower = {c.strip().lower(): c for c in columns}
    out = {}
    for name in [*CUR_COLUMNS.values(), *EXTRA_COLUMNS]:
        hit = present.get(name) or lower.get(name.lower()) or present.get(athena_name(name))
        if hit:
            out[name] = hit
    for column in columns:
        if column.strip().startswith(TAG_PREFIXES):
            out[column] = column
    return out


def missing_required(columns: list[str]) -> list[str]:
    found = cur_columns(columns)
    return [name for name in CUR_REQUIRED if name not in found]


def _num(batch: pa.RecordBatch, names: dict[str, str], column: str) -> np.ndarray:
    if column not in names:
        return np.zeros(batch.num_rows)
    arr = batch.column(batch.schema.get_field_index(names[column]))
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if not pa.types.is_floating(arr.type) and not pa.types.is_integer(arr.type):
        values = pd.to_numeric(pd.Series(arr.to_numpy(zero_copy_only=False)), errors="coerce")
        return values.fillna(0.0).to_numpy(dtype=np.float64)
    return pc.fill_null(pc.cast(arr, pa.float64()), 0.0).to_numpy(zero_copy_only=False)


def _text(batch: pa.RecordBatch, names: dict[str, str], column: str) -> np.ndarray:
    if column not in names:
        return np.full(batch.num_rows, "", dtype=object)
    arr = batch.column(batch.schema.get_field_index(names[column]))
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    values = pc.fill_null(pc.cast(arr, pa.string()), "").to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=object)


def _tags(batch: pa.RecordBatch, names: dict[str, str]) -> pa.Array:
    """resourceTags/user:Project, resource_tags_user_project → Tags JSON per row."""
    tag_columns = [c for c in names if c.strip().startswith(TAG_PREFIXES)]
    if not tag_columns:
        return pa.nulls(batch.num_rows, pa.string())
    keys = []
    for column in tag_columns:
        raw = column.strip()
        if raw.startswith("resourceTags/"):
            keys.append(raw[len("resourceTags/") :])  # "user:Project", "aws:createdBy"
        else:
            rest = raw[len("resource_tags_") :]
            for prefix in ("user_", "aws_"):
                if rest.startswith(prefix):
                    rest = prefix[:-1] + ":" + rest[len(prefix) :]
                    break
            keys.append(rest)
    frame = pd.DataFrame(
        {k: _text(batch, names, c) for k, c in zip(keys, tag_columns, strict=True)}
    )
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(frame))
    texts = []
    for combo in uniques:
        tags = {k: v for k, v in zip(keys, combo, strict=True) if v}
        texts.append(json.dumps(tags, sort_keys=True) if tags else None)
    return pa.array(np.asarray(texts, dtype=object)[codes], pa.string())


def cur_to_focus(batch: pa.RecordBatch, names: dict[str, str]) -> tuple[dict, int]:
    """One CUR batch → (FOCUS field → array, rows), ready for ingest.normalize."""
    n = batch.num_rows
    kind = _text(batch, names, "lineItem/LineItemType")
    usage_type = _text(batch, names, "lineItem/UsageType")
    unblended = _num(batch, names, "lineItem/UnblendedCost")
    effective = unblended.copy()
    ri_covered = kind == "DiscountedUsage"
    sp_covered = kind == "SavingsPlanCoveredUsage"
    effective[ri_covered] = _num(batch, names, "reservation/EffectiveCost")[ri_covered]
    effective[sp_covered] = _num(batch, names, "savingsPlan/SavingsPlanEffectiveCost")[sp_covered]
    ri_fee = kind == "RIFee"
    effective[ri_fee] = (
        _num(batch, names, "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod")
        + _num(batch, names, "reservation/UnusedRecurringFee")
    )[ri_fee]
    sp_fee = kind == "SavingsPlanRecurringFee"
    effective[sp_fee] = (
        _num(batch, names, "savingsPlan/TotalCommitmentToDate")
        - _num(batch, names, "savingsPlan/UsedCommitment")
    )[sp_fee]
    heavy_usage = np.char.find(usage_type.astype(str), "HeavyUsage") >= 0
    upfront = np.isin(kind, ["SavingsPlanNegation", "SavingsPlanUpfrontFee"]) | (
        (kind == "Fee") & heavy_usage
    )
    effective[upfront] = 0.0

    category = np.full(n, "Usage", dtype=object)
    category[np.isin(kind, ["Tax"])] = "Tax"
    category[
        np.isin(kind, ["Credit", "Refund", "BundledDiscount", "EdpDiscount", "PrivateRateDiscount"])
    ] = "Credit"
    category[
        np.isin(kind, ["Fee", "RIFee", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee"])
    ] = "Purchase"
    pricing = np.full(n, "Standard", dtype=object)
    pricing[np.char.find(usage_type.astype(str), "SpotUsage") >= 0] = "Dynamic"
    pricing[ri_covered | sp_covered | (kind == "SavingsPlanNegation")] = "Committed"

    service = _text(batch, names, "product/ProductName")
    product_code = _text(batch, names, "lineItem/ProductCode")
    service = np.where(service == "", product_code, service)

    def arr(values) -> pa.Array:
        return pa.array(values, pa.string()) if values.dtype == object else pa.array(values)

    def raw(column: str) -> pa.Array | None:  # timestamps keep their native type
        if column not in names:
            return None
        return batch.column(batch.schema.get_field_index(names[column]))

    columns: dict[str, pa.Array | None] = {
        "billing_period_start": raw("bill/BillingPeriodStartDate"),
        "start": raw("lineItem/UsageStartDate"),
        "end": raw("lineItem/UsageEndDate"),
        "billed": pa.array(unblended),
        "effective": pa.array(effective),
        "list": pa.array(_num(batch, names, "pricing/publicOnDemandCost"))
        if "pricing/publicOnDemandCost" in names
        else None,
        "currency": arr(_text(batch, names, "lineItem/CurrencyCode")),
        "provider": pa.array(np.full(n, "AWS", dtype=object), pa.string()),
        "billing_account_id": arr(_text(batch, names, "bill/PayerAccountId")),
        "sub_account_id": arr(_text(batch, names, "lineItem/UsageAccountId")),
        "region": arr(_text(batch, names, "product/region")),
        "service_name": arr(service),
        "service_category": arr(_text(batch, names, "product/productFamily")),
        "charge_category": arr(category),
        "pricing_category": arr(pricing),
        "resource_id": arr(_text(batch, names, "lineItem/ResourceId")),
        "sku_id": arr(_text(batch, names, "product/sku")),
        "consumed_quantity": pa.array(_num(batch, names, "lineItem/UsageAmount")),
        "pricing_unit": arr(_text(batch, names, "pricing/unit")),
        "tags": _tags(batch, names),
        "x_instance_type": arr(_text(batch, names, "product/instanceType")),
        "usage_type": arr(usage_type),
    }
    return columns, n
