"""Each charge's instance type, GPU model and GPU-hours, from whatever its export carries.

Instance types, in order: an explicit instance-type column (CUR ``product/instanceType``,
FOCUS ``x_InstanceType`` and the like), ``SkuPriceDetails`` / ``x_SkuDetails`` JSON
(``InstanceType``, ``VMSize``, ``MachineType``, Azure's ``ServiceType``), Azure
``ArmSkuName``, then an AWS usage type (``USW2-BoxUsage:p4d.24xlarge``). The GPU model comes
from those or, failing them, from the descriptions (``SkuMeter``, ``x_SkuMeterName`` /
``MeterName``, ``x_SkuDescription``, ``ChargeDescription``, ``ResourceType``): GCP GPU SKUs,
Azure meter names.

GPU-hours: for Usage rows whose ConsumedUnit (or, where it is empty, PricingUnit) is hours,
the hours × the GPUs per hour of the row (gpu.models.GpuInfo.hour_gpus). AWS usage types
that name an instance without being its hours (``EBSOptimized:p3.2xlarge``,
``CPUCredits:…``) are GPU spend with no GPU-hours.

Everything is decided once per distinct combination of these values, then spread over the
rows with numpy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa

from finops_bot.gpu.models import (
    GpuInfo,
    classify,
    looks_like_instance_type,
    normalise_instance_type,
)
from finops_bot.ingest.columns import _combine, _encode

# fields (see normalize.FOCUS_FIELDS) that name an instance type, strongest first
INSTANCE_FIELDS = ("x_instance_type", "sku_price_details", "x_sku_details", "arm_sku_name")
DESCRIPTION_FIELDS = (
    "sku_meter",
    "x_sku_meter_name",
    "x_sku_description",
    "charge_description",
    "resource_type",
)
HOUR_UNITS = {"hrs", "hours", "hour", "h", "hr"}
# AWS usage-type operations that are an instance's own hours
# (SageMaker's Train, Host, Notebk and Processing hours of an ml.* instance too)
INSTANCE_HOURS = {
    "boxusage",
    "spotusage",
    "dedicatedusage",
    "unusedbox",
    "unusedded",
    "train",
    "host",
    "notebk",
    "processing",
}
_DETAIL_KEYS = {"instancetype", "vmsize", "machinetype", "armskuname"}
_SHAPED_DETAIL_KEYS = {"servicetype"}  # a VM size, or a service name: only the first counts
_BLOCK = re.compile(r"^\d+\s+")  # Azure's "1 Hour", "10 Hours"


def hint_columns(columns: list[str]) -> dict[str, str]:
    """x_ columns that name an instance type (x_InstanceType, x_instance_type,
    x_SkuInstanceType, …), and other spellings of the hint fields → the file's column."""
    out: dict[str, str] = {}
    for column in columns:
        name = column.strip().lower()
        flat = name.replace("_", "")
        if name.startswith("x_") and "instancetype" in flat:
            out.setdefault("x_instance_type", column)
        elif flat in ("xskumetername", "metername"):
            out.setdefault("x_sku_meter_name", column)
        elif flat in ("xskudetails", "additionalinfo"):
            out.setdefault("x_sku_details", column)
        elif flat in ("armskuname", "xskuarmskuname"):
            out.setdefault("arm_sku_name", column)
        elif flat in ("xusagetype",):
            out.setdefault("usage_type", column)
    return out


def is_hour_unit(unit: str) -> bool:
    return _BLOCK.sub("", unit.strip().lower()) in HOUR_UNITS


@lru_cache(maxsize=65_536)
def _from_details(text: str) -> str:
    """The instance type a SkuPriceDetails / x_SkuDetails JSON object names, or ''."""
    if not text or "{" not in text:
        return ""
    try:
        details = json.loads(text)
    except ValueError:
        return ""
    if not isinstance(details, dict):
        return ""
    for key, value in details.items():
        flat = str(key).lower().removeprefix("x_").replace("_", "")
        if not isinstance(value, str) or not value.strip():
            continue
        shaped = flat in _SHAPED_DETAIL_KEYS and looks_like_instance_type(value)
        if flat in _DETAIL_KEYS or shaped:
            return value.strip()
    return ""


@lru_cache(maxsize=65_536)
def _from_usage_type(text: str) -> tuple[str, bool | None]:
    """(instance type, whether the usage is its hours) of an AWS usage type such as
    ``USW2-BoxUsage:p4d.24xlarge``; ('', None) when it names no instance."""
    operation, sep, suffix = text.strip().rpartition(":")
    if not sep or not looks_like_instance_type(suffix):
        return "", None
    op = operation.rsplit("-", 1)[-1].lower()
    return suffix, op in INSTANCE_HOURS


@dataclass(frozen=True)
class Coded:
    """A text column as codes into its distinct values."""

    codes: np.ndarray
    values: list[str]


def _resolve(instance_texts: dict[str, str], descriptions: list[str], usage: str):
    """One combination of hint values → (instance type, GPU model, GPUs per hour)."""
    instance = ""
    for field in INSTANCE_FIELDS:
        text = instance_texts.get(field, "")
        candidate = _from_details(text) if field.endswith("details") else text.strip()
        if candidate:
            instance = candidate
            break
    counts_hours: bool | None = None
    if usage:
        from_usage, counts_hours = _from_usage_type(usage)
        instance = instance or from_usage
    info: GpuInfo | None = classify(instance) if instance else None
    infos = [info] if info else []
    for text in descriptions:
        found = classify(text) if text else None
        if found is not None:
            infos.append(found)
    if not infos:
        return normalise_instance_type(instance), "", 0.0
    first = infos[0]
    hour_gpus = max(i.hour_gpus for i in infos)
    if counts_hours is False:
        hour_gpus = 0.0
    return normalise_instance_type(instance or first.instance_type), first.model, hour_gpus


@dataclass
class GpuColumns:
    instance_codes: np.ndarray
    instance_values: list[str]
    model_codes: np.ndarray
    model_values: list[str]
    hour_gpus: np.ndarray  # float64 per row


def _informative(field: str, values: list[str]) -> bool:
    """Whether any value of the field can name an instance type or a GPU."""
    if field in DESCRIPTION_FIELDS:
        return any(classify(v) for v in values if v)
    if field == "usage_type":
        return any(_from_usage_type(v)[0] for v in values if v)
    if field.endswith("details"):
        return any(_from_details(v) for v in values if v)
    return any(v.strip() for v in values)


def classify_rows(get: Callable[[str], pa.Array | None], n: int) -> GpuColumns:
    """The batch's instance types, GPU models and GPUs per hour, row by row. Fields whose
    values name nothing are dropped first, so a file without GPU hints costs one pass over
    each hint column's distinct values."""
    fields: dict[str, Coded] = {}
    for name in (*INSTANCE_FIELDS, "usage_type", *DESCRIPTION_FIELDS):
        if get(name) is not None:
            coded = Coded(*_encode(get(name), n))
            if _informative(name, coded.values):
                fields[name] = coded
    if not fields:
        return GpuColumns(
            np.zeros(n, np.int64), [""], np.zeros(n, np.int64), [""], np.zeros(n, np.float64)
        )
    order = list(fields)
    if len(order) == 1:
        group = fields[order[0]].codes
        pick = [{order[0]: v} for v in fields[order[0]].values]
    else:
        group, rows = _combine([(fields[f].codes, len(fields[f].values)) for f in order], n)
        pick = [{f: fields[f].values[fields[f].codes[r]] for f in order} for r in rows.tolist()]
    resolved = [
        _resolve(
            {f: value[f] for f in INSTANCE_FIELDS if f in value},
            [value[f] for f in DESCRIPTION_FIELDS if f in value],
            value.get("usage_type", ""),
        )
        for value in pick
    ]
    instance_codes, instance_values = _factorize([r[0] for r in resolved])
    model_codes, model_values = _factorize([r[1] for r in resolved])
    hours = np.asarray([r[2] for r in resolved], dtype=np.float64)
    return GpuColumns(
        instance_codes[group], instance_values, model_codes[group], model_values, hours[group]
    )


def _factorize(values: list[str]) -> tuple[np.ndarray, list[str]]:
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), np.int64, len(values))
    return codes, list(index)


def gpu_hours(
    hour_gpus: np.ndarray,
    quantities: tuple[np.ndarray, np.ndarray],
    units: tuple[Coded, Coded],
    category: Coded,
) -> np.ndarray:
    """GPU-hours per row (NaN where none): hours × GPUs per hour, Usage rows in hours only.
    ``quantities``: ConsumedQuantity, PricingQuantity; ``units``: ConsumedUnit, PricingUnit
    (codes and distinct values); ``category``: ChargeCategory."""
    out = np.full(len(hour_gpus), np.nan)
    gpu = hour_gpus > 0
    if not gpu.any():
        return out
    consumed, pricing = quantities
    cu_hour = np.array([is_hour_unit(u) for u in units[0].values], bool)[units[0].codes]
    pu_hour = np.array([is_hour_unit(u) for u in units[1].values], bool)[units[1].codes]
    cu_empty = np.array([not u.strip() for u in units[0].values], bool)[units[0].codes]
    usage = np.array([c.strip().lower() == "usage" for c in category.values], bool)
    usage = usage[category.codes]
    hours = np.where(
        cu_hour & ~np.isnan(consumed),
        consumed,
        np.where(
            pu_hour & ~np.isnan(pricing),
            pricing,
            np.where(pu_hour & cu_empty, consumed, np.nan),
        ),
    )
    keep = gpu & usage & ~np.isnan(hours)
    out[keep] = hours[keep] * hour_gpus[keep]
    return out
