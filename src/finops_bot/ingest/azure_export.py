"""Azure EA / MCA cost-details exports → FOCUS-named columns.

These CSVs start with a UTF-8 BOM, write dates as MM/DD/YYYY and Tags without braces
(`"k": "v","k2": "v2"`). One export holds one cost type: an "ActualCost" export is what
was billed, an "AmortizedCost" export spreads reservation and savings-plan purchases over
the usage they cover. A file's Cost fills both BilledCost and EffectiveCost until the other
cost type's export of the same scope and month arrives; then the two are merged (see
store.deliveries): BilledCost from the actual export, EffectiveCost from the amortised one.

The cost type is read from the file itself: an actual export bills commitment purchases
and shows covered usage at 0; an amortised one prices covered usage and has Unused*
rows. The file name ("…ActualCost…", "…amortized…") is a second opinion, and
``--cost-type`` overrides both.

The optional FOCUS columns (store.extras) these exports give:
- CommitmentDiscountId: BenefitId (the reservation's or savings plan's resource id), else
  ReservationId as written; Name: BenefitName, else ReservationName; Category Usage for a
  reservation (Microsoft.Capacity, PricingModel Reservation, UnusedReservation), Spend for
  a savings plan (Microsoft.BillingBenefits, SavingsPlan, UnusedSavingsPlan); Type
  "Reservation" / "Savings Plan", Microsoft's words. Status Unused for the UnusedReservation
  and UnusedSavingsPlan rows (amortised exports only), Used for other usage rows of a
  commitment, none for purchases and refunds.
- InvoiceId: InvoiceId (MCA) or InvoiceNumber; PublisherName; AvailabilityZone.
- Unit prices, per UnitOfMeasure: PayGPrice → ListUnitPrice, UnitPrice (negotiated, before
  commitments) → ContractedUnitPrice. MCA exports price in PricingCurrency: there the two
  are PricingCurrencyListUnitPrice / PricingCurrencyContractedUnitPrice, and the billing-
  currency ones only where both currencies are the same; CostInPricingCurrency →
  PricingCurrencyEffectiveCost (from the amortised export once the pair is merged).
Absent, as the exports do not say it: CommitmentDiscountQuantity and Unit (Microsoft derives
them from price-sheet ratios), ChargeClass, InvoiceIssuerName (Microsoft, or the CSP
partner: not in the file), ServiceSubcategory, ContractedCost, CapacityReservation*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from finops_bot.errors import ImportRefused

COST_COLUMNS = ("Cost", "CostInBillingCurrency", "PreTaxCost")
PRICING = {
    "ondemand": "Standard",
    "spot": "Dynamic",
    "reservation": "Committed",
    "savingsplan": "Committed",
}
CHARGE = {
    "usage": "Usage",
    "purchase": "Purchase",
    "refund": "Credit",
    "unusedreservation": "Usage",
    "unusedsavingsplan": "Usage",
    "tax": "Tax",
}


def is_azure_export(columns: list[str]) -> bool:
    names = {c.strip().lstrip("\ufeff") for c in columns}
    return {"MeterCategory", "SubscriptionId", "Date"} <= names and bool(names & set(COST_COLUMNS))


def _find(columns: list[str], *names: str) -> str | None:
    index = {c.strip().lstrip("\ufeff").lower(): c for c in columns}
    return next((index[n.lower()] for n in names if n.lower() in index), None)


def azure_columns(columns: list[str]) -> dict[str, str]:
    """Field → the file's column, for the columns present."""
    wanted = {
        "date": ("Date", "UsageDate"),
        "billing_period_start": ("BillingPeriodStartDate", "BillingPeriodStart"),
        "cost": COST_COLUMNS,
        "currency": ("BillingCurrency", "BillingCurrencyCode", "Currency"),
        "billing_account_id": ("BillingAccountId",),
        "billing_account_name": ("BillingAccountName",),
        "sub_account_id": ("SubscriptionId",),
        "sub_account_name": ("SubscriptionName",),
        "region": ("ResourceLocation",),
        "service_name": ("MeterCategory",),
        "resource_id": ("ResourceId", "InstanceId"),
        "sku_id": ("MeterId", "PartNumber"),
        "consumed_quantity": ("Quantity",),
        "consumed_unit": ("UnitOfMeasure",),
        "pricing_model": ("PricingModel",),
        "charge_type": ("ChargeType",),
        "tags": ("Tags",),
        "meter_name": ("MeterName",),  # VM sizes: "NC24ads A100 v4"
        "additional_info": ("AdditionalInfo",),  # {"ServiceType": "Standard_D2s_v3", …}
        "arm_sku_name": ("ArmSkuName",),
        "benefit_id": ("BenefitId",),
        "benefit_name": ("BenefitName",),
        "reservation_id": ("ReservationId",),
        "reservation_name": ("ReservationName",),
        "invoice_id": ("InvoiceId", "InvoiceNumber"),
        "publisher_name": ("PublisherName",),
        "availability_zone": ("AvailabilityZone",),
        "payg_price": ("PayGPrice",),
        "unit_price": ("UnitPrice",),
        "pricing_currency": ("PricingCurrency", "PricingCurrencyCode"),
        "pricing_cost": ("CostInPricingCurrency",),
    }
    return {f: c for f, names in wanted.items() if (c := _find(columns, *names))}


def _text(batch: pa.RecordBatch, column: str | None) -> np.ndarray:
    if column is None:
        return np.full(batch.num_rows, "", dtype=object)
    arr = batch.column(batch.schema.get_field_index(column))
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    return np.asarray(
        pc.fill_null(pc.cast(arr, pa.string()), "").to_numpy(zero_copy_only=False), dtype=object
    )


def _iso_dates(values: np.ndarray) -> np.ndarray:
    """MM/DD/YYYY (EA, MCA) or ISO → ISO dates; unreadable values stay as they are, so the
    normaliser reports them as bad rows."""
    series = pd.Series(values, dtype=object)
    us = pd.to_datetime(series, format="%m/%d/%Y", errors="coerce")
    iso = pd.to_datetime(series.where(us.isna()), format="ISO8601", errors="coerce", utc=True)
    out = series.copy()
    out[us.notna()] = us[us.notna()].dt.strftime("%Y-%m-%d")
    out[iso.notna()] = iso[iso.notna()].dt.strftime("%Y-%m-%d")
    return out.to_numpy(dtype=object)


def azure_to_focus(batch: pa.RecordBatch, names: dict[str, str]) -> tuple[dict, int]:
    n = batch.num_rows

    def col(field: str) -> pa.Array | None:
        column = names.get(field)
        return None if column is None else pa.array(_text(batch, column), pa.string())

    cost = col("cost")
    pricing = np.array(
        [
            PRICING.get(v.replace(" ", "").lower(), "Standard" if not v else "Other")
            for v in _text(batch, names.get("pricing_model"))
        ],
        dtype=object,
    )
    charge = np.array(
        [
            CHARGE.get(v.replace(" ", "").lower(), "Usage")
            for v in _text(batch, names.get("charge_type"))
        ],
        dtype=object,
    )
    period = names.get("billing_period_start")
    extras = azure_extras(batch, names)
    return extras | {
        "start": pa.array(_iso_dates(_text(batch, names.get("date"))), pa.string()),
        "billing_period_start": pa.array(_iso_dates(_text(batch, period)), pa.string())
        if period
        else None,
        "billed": cost,
        "effective": cost,
        "currency": col("currency"),
        "provider": pa.array(np.full(n, "Microsoft", dtype=object), pa.string()),
        "billing_account_id": col("billing_account_id"),
        "billing_account_name": col("billing_account_name"),
        "sub_account_id": col("sub_account_id"),
        "sub_account_name": col("sub_account_name"),
        "region": col("region"),
        "service_name": col("service_name"),
        "charge_category": pa.array(charge, pa.string()),
        "pricing_category": pa.array(pricing, pa.string()),
        "resource_id": col("resource_id"),
        "sku_id": col("sku_id"),
        "consumed_quantity": col("consumed_quantity"),
        "consumed_unit": col("consumed_unit"),
        "tags": col("tags"),
        "x_charge_type": pa.array(_text(batch, names.get("charge_type")), pa.string()),
        "x_sku_meter_name": col("meter_name"),
        "x_sku_details": col("additional_info"),
        "arm_sku_name": col("arm_sku_name"),
    }, n


def _or_null(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string(), mask=values == "")


def _prices(values: np.ndarray, where: np.ndarray) -> pa.Array:
    """Numbers as text where ``where``, null elsewhere (the normaliser parses them)."""
    return pa.array(values, pa.string(), mask=~where | (values == ""))


def azure_extras(batch: pa.RecordBatch, names: dict[str, str]) -> dict[str, pa.Array]:
    """The optional FOCUS columns of one export batch (see the module's docstring)."""
    out: dict[str, pa.Array] = {}
    for key in ("invoice_id", "publisher_name", "availability_zone"):
        if key in names:
            out[key] = _or_null(_text(batch, names[key]))
    if "benefit_id" in names or "reservation_id" in names:
        out.update(_commitments(batch, names))
    everywhere = np.ones(batch.num_rows, dtype=bool)
    priced_in = names.get("pricing_currency")
    if priced_in is None:  # EA: prices in the billing currency
        same = everywhere
    else:
        currency = _text(batch, priced_in)
        out["pricing_currency"] = _or_null(currency)
        same = currency == _text(batch, names.get("currency"))
        for key, column in (
            ("pricing_currency_list_unit_price", "payg_price"),
            ("pricing_currency_contracted_unit_price", "unit_price"),
            ("pricing_currency_effective_cost", "pricing_cost"),
        ):
            if column in names:
                out[key] = _prices(_text(batch, names[column]), everywhere)
    for key, column in (
        ("list_unit_price", "payg_price"),
        ("contracted_unit_price", "unit_price"),
    ):
        if column in names:
            out[key] = _prices(_text(batch, names[column]), same)
    return out


def _commitments(batch: pa.RecordBatch, names: dict[str, str]) -> dict[str, pa.Array]:
    """Reservations and savings plans → the CommitmentDiscount* columns."""
    benefit = _text(batch, names.get("benefit_id"))
    ids = np.where(benefit != "", benefit, _text(batch, names.get("reservation_id")))
    benefit_name = _text(batch, names.get("benefit_name"))
    name = np.where(benefit_name != "", benefit_name, _text(batch, names.get("reservation_name")))
    model = np.char.lower(_text(batch, names.get("pricing_model")).astype(str))
    charge = np.char.lower(_text(batch, names.get("charge_type")).astype(str))
    path = np.char.lower(ids.astype(str))
    has = ids != ""
    reservation = has & (
        (np.char.find(path, "/microsoft.capacity/") >= 0)
        | (model == "reservation")
        | (charge == "unusedreservation")
    )
    plan = has & ~reservation
    plan &= (
        (np.char.find(path, "/microsoft.billingbenefits/") >= 0)
        | (model == "savingsplan")
        | (charge == "unusedsavingsplan")
    )
    unused = has & np.isin(charge, ["unusedreservation", "unusedsavingsplan"])
    used = has & ~unused & (charge == "usage")
    return {
        "commitment_discount_id": _or_null(ids),
        "commitment_discount_name": _or_null(name),
        "commitment_discount_category": _or_null(
            np.select([reservation, plan], ["Usage", "Spend"], "").astype(object)
        ),
        "commitment_discount_type": _or_null(
            np.select([reservation, plan], ["Reservation", "Savings Plan"], "").astype(object)
        ),
        "commitment_discount_status": _or_null(
            np.select([unused, used], ["Unused", "Used"], "").astype(object)
        ),
    }


COST_TYPES = ("actual", "amortized")
COMMITTED = {"reservation", "savingsplan"}


@dataclass
class CostTypeEvidence:
    """What an export's rows say about its cost type, gathered batch by batch."""

    path: Path
    actual: int = 0  # commitment purchases billed, or covered usage at 0
    amortized: int = 0  # covered usage priced, or Unused* rows
    decided: list[str] = field(default_factory=list)

    def watch(self, converted: tuple[dict, int]) -> tuple[dict, int]:
        columns, _ = converted
        pricing = np.asarray(columns["pricing_category"].to_numpy(zero_copy_only=False))
        raw_charge = np.asarray(columns["x_charge_type"].to_numpy(zero_copy_only=False))
        cost = pd.to_numeric(
            pd.Series(columns["billed"].to_numpy(zero_copy_only=False)), errors="coerce"
        ).fillna(0.0)
        committed = pricing == "Committed"
        purchase = np.char.lower(raw_charge.astype(str)) == "purchase"
        unused = np.char.startswith(np.char.lower(raw_charge.astype(str)), "unused")
        priced = (cost != 0).to_numpy()
        self.actual += int((committed & purchase & priced).sum())
        self.actual += int((committed & ~purchase & ~unused & ~priced).sum())
        self.amortized += int((committed & ~purchase & priced).sum() + unused.sum())
        return converted

    def decide(self, override: str | None) -> str:
        if override:
            self.decided.append(f"cost type {override} (--cost-type)")
            return override
        name = self.path.name.lower()
        hint = (
            "amortized"
            if re.search(r"amorti[sz]", name)
            else ("actual" if "actual" in name else None)
        )
        if self.actual and self.amortized:
            raise ImportRefused(
                f"{self.path}: not imported, its cost type is ambiguous: {self.actual} row(s) "
                f"look like an actual-cost export (commitment purchases billed, covered usage "
                f"at 0) and {self.amortized} like an amortised one (covered usage priced, "
                "Unused rows). Give --cost-type actual or --cost-type amortized. "
                "The cache is unchanged."
            )
        found = "actual" if self.actual else ("amortized" if self.amortized else None)
        if found and hint and found != hint:
            raise ImportRefused(
                f"{self.path}: not imported, its name says {hint} cost but its rows look "
                f"{found} (commitment rows); give --cost-type actual or --cost-type amortized. "
                "The cache is unchanged."
            )
        if found:
            self.decided.append(f"cost type {found} (from its commitment rows)")
            return found
        if hint:
            self.decided.append(f"cost type {hint} (from its name)")
            return hint
        self.decided.append(
            "cost type actual (no reservation or savings-plan rows: actual and amortised "
            "cost are the same)"
        )
        return "actual"

    def notes(self) -> tuple[str, ...]:
        return tuple(self.decided)
