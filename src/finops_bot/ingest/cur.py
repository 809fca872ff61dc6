"""AWS Cost and Usage Report (legacy CUR) → FOCUS-named columns.

Two spellings exist: the CSV style (``lineItem/UnblendedCost``, ``resourceTags/user:Project``)
and the Athena/Parquet style (``line_item_unblended_cost``, ``resource_tags_user_project``).
Column sets drift from month to month (a column appears, another goes), so every column
is optional except the few listed in CUR_REQUIRED.

EffectiveCost is amortised the way AWS defines it: usage covered by a reservation or a
savings plan costs its effective rate; the upfront and recurring fees count only for their
unused part; savings-plan negation lines cancel out.

The optional FOCUS columns (store.extras) the CUR can honestly give:
- CommitmentDiscountId: savingsPlan/SavingsPlanARN, else reservation/ReservationARN; its
  Category (Spend / Usage) and Type ("Savings Plan" / "Reserved Instance") follow.
  Status Used on DiscountedUsage, SavingsPlanCoveredUsage and SavingsPlanNegation (so the
  Used rows' BilledCost nets to what the commitment billed); Unused on an RIFee or
  SavingsPlanRecurringFee line with an unused part (its EffectiveCost is that part);
  purchases (Fee, RIFee fully used, SavingsPlanUpfrontFee) have none.
  CommitmentDiscountQuantity: the hours covered (DiscountedUsage: lineItem/UsageAmount, in
  pricing/unit) or left unused (RIFee: reservation/UnusedQuantity, RI hours, "Hrs"); for a
  savings plan the commitment used (savingsPlan/SavingsPlanEffectiveCost) or unused (Total
  − Used commitment), in lineItem/CurrencyCode.
- InvoiceId: bill/InvoiceId (empty until the invoice is issued: null then);
  InvoiceIssuerName: bill/InvoicingEntity; PublisherName: lineItem/LegalEntity (the seller
  of record: the ISV for a Marketplace line). bill/BillingEntity ("AWS", "AWS Marketplace")
  names which bill a line is on, neither issuer nor publisher, so it is not mapped: older
  CURs without those two columns have neither.
- AvailabilityZone: lineItem/AvailabilityZone. ChargePeriodEnd: lineItem/UsageEndDate.
- ListUnitPrice: pricing/publicOnDemandRate where pricing/currency is the billing currency
  (or not given), else PricingCurrencyListUnitPrice; PricingCurrency: pricing/currency.
- CapacityReservationId / Status: capacityReservation/CapacityReservationArn / Status
  (CUR 2.0; Reserved and Cancelled are not FOCUS statuses: null).
Absent, as the CUR has no such fact: CommitmentDiscountName, ChargeClass (no correction
flag), ServiceSubcategory (no FOCUS taxonomy), ContractedCost and ContractedUnitPrice (no
negotiated rate before commitments), PricingCurrencyEffectiveCost and
PricingCurrencyContractedUnitPrice.
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
    # the optional FOCUS columns (see the module's docstring)
    "reservation/ReservationARN",
    "savingsPlan/SavingsPlanARN",
    "reservation/UnusedQuantity",
    "bill/InvoiceId",
    "bill/InvoicingEntity",
    "lineItem/LegalEntity",
    "lineItem/AvailabilityZone",
    "pricing/publicOnDemandRate",
    "pricing/currency",
    "capacityReservation/CapacityReservationArn",
    "capacityReservation/CapacityReservationStatus",
]
# Athena/Parquet spellings that athena_name cannot derive (AWS splits "ARN" letter by letter)
ATHENA_NAMES = {
    "reservation/ReservationARN": "reservation_reservation_a_r_n",
    "savingsPlan/SavingsPlanARN": "savings_plan_savings_plan_a_r_n",
}
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
        hit = (
            present.get(name)
            or lower.get(name.lower())
            or present.get(athena_name(name))
            or present.get(ATHENA_NAMES.get(name, ""))
        )
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
    columns.update(cur_extras(batch, names, kind, effective))
    return columns, n


def _maybe(batch: pa.RecordBatch, names: dict[str, str], column: str) -> np.ndarray | None:
    """A number column with its nulls (NaN), or None when the file lacks it."""
    if column not in names:
        return None
    arr = batch.column(batch.schema.get_field_index(names[column]))
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type):
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    series = pd.Series(arr.to_numpy(zero_copy_only=False))
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


def _strings(values: np.ndarray) -> pa.Array:
    """Text with '' as null."""
    return pa.array(values, pa.string(), mask=values == "")


def _numbers(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.float64(), mask=np.isnan(values))


def cur_extras(
    batch: pa.RecordBatch, names: dict[str, str], kind: np.ndarray, effective: np.ndarray
) -> dict[str, pa.Array]:
    """The optional FOCUS columns of one CUR batch (see the module's docstring)."""
    n = batch.num_rows
    out: dict[str, pa.Array] = {}
    for field, column in (
        ("invoice_id", "bill/InvoiceId"),
        ("invoice_issuer_name", "bill/InvoicingEntity"),
        ("publisher_name", "lineItem/LegalEntity"),
        ("availability_zone", "lineItem/AvailabilityZone"),
        ("pricing_currency", "pricing/currency"),
        ("capacity_reservation_id", "capacityReservation/CapacityReservationArn"),
    ):
        if column in names:
            out[field] = _strings(_text(batch, names, column))
    if "capacityReservation/CapacityReservationStatus" in names:
        status = _text(batch, names, "capacityReservation/CapacityReservationStatus")
        out["capacity_reservation_status"] = _strings(
            np.where(np.isin(status, ["Used", "Unused"]), status, "")
        )
    rate = _maybe(batch, names, "pricing/publicOnDemandRate")
    if rate is not None:
        priced_in = _text(batch, names, "pricing/currency")
        same = (priced_in == "") | (priced_in == _text(batch, names, "lineItem/CurrencyCode"))
        out["list_unit_price"] = _numbers(np.where(same, rate, np.nan))
        out["pricing_currency_list_unit_price"] = _numbers(np.where(same, np.nan, rate))
    if "reservation/ReservationARN" in names or "savingsPlan/SavingsPlanARN" in names:
        out.update(_commitments(batch, names, kind, effective, n))
    return out


def _commitments(batch, names, kind: np.ndarray, effective: np.ndarray, n: int) -> dict:
    """Reservations and savings plans → the CommitmentDiscount* columns."""
    ri = _text(batch, names, "reservation/ReservationARN")
    sp = _text(batch, names, "savingsPlan/SavingsPlanARN")
    is_sp = sp != ""
    is_ri = (ri != "") & ~is_sp
    used = np.isin(kind, ["DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation"])
    unused_ri = _maybe(batch, names, "reservation/UnusedQuantity")
    unused_ri = np.zeros(n) if unused_ri is None else np.nan_to_num(unused_ri)
    ri_unused = (kind == "RIFee") & ((unused_ri > 0) | (effective > 0))
    sp_unused = (kind == "SavingsPlanRecurringFee") & (effective > 0)
    status = np.select(
        [(is_ri | is_sp) & used, is_ri & ri_unused, is_sp & sp_unused],
        ["Used", "Unused", "Unused"],
        "",
    )
    covered = kind == "DiscountedUsage"
    sp_used = kind == "SavingsPlanCoveredUsage"
    quantity = np.select(
        [is_ri & covered, is_ri & ri_unused, is_sp & sp_used, is_sp & sp_unused],
        [
            _num(batch, names, "lineItem/UsageAmount"),
            unused_ri,
            _num(batch, names, "savingsPlan/SavingsPlanEffectiveCost"),
            effective,
        ],
        np.nan,
    )
    unit = np.select(
        [is_ri & covered, is_ri & ri_unused, is_sp & (sp_used | sp_unused)],
        [_text(batch, names, "pricing/unit"), "Hrs", _text(batch, names, "lineItem/CurrencyCode")],
        "",
    )
    return {
        "commitment_discount_id": _strings(np.where(is_sp, sp, ri)),
        "commitment_discount_category": _strings(np.select([is_sp, is_ri], ["Spend", "Usage"], "")),
        "commitment_discount_type": _strings(
            np.select([is_sp, is_ri], ["Savings Plan", "Reserved Instance"], "")
        ),
        "commitment_discount_status": _strings(status.astype(object)),
        "commitment_discount_quantity": _numbers(quantity.astype(np.float64)),
        "commitment_discount_unit": _strings(unit.astype(object)),
    }
