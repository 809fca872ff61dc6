"""Hourly prices of GPU nodes, first match wins:
1. config ``[gpu_prices]`` for the instance type (whole instance);
2. the GCP Cloud Catalog prices a ``gcp_cloud_billing`` source loads (gpu_prices table):
   per GPU, by the GPU model NVML reports, the node's region and Spot or on-demand. GCP bills
   GPUs apart from vCPUs and memory, so such a node's price is its GPUs' price alone;
3. the bundled, dated table below (on-demand list prices; Spot prices indicative).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlite_utils import Database

from finops_bot.gpu.models import gpus_per_instance

PRICES_AS_OF = "2026-11-01"
PRICE_ORDER = f"[gpu_prices] config, then the GCP catalog, then the bundled table ({PRICES_AS_OF})"


@dataclass(frozen=True)
class InstancePrice:
    gpus: int
    on_demand: float  # USD per hour, whole instance
    spot: float | None


# on-demand and Spot USD per hour of the whole instance; its GPU count comes from the one
# table of GPU instance types (gpu.models)
_BUNDLED_PRICES: dict[tuple[str, str], tuple[float, float | None]] = {
    ("aws", "p5.48xlarge"): (98.32, 35.40),
    ("aws", "p4d.24xlarge"): (32.77, 11.57),
    ("aws", "p4de.24xlarge"): (40.97, 14.70),
    ("aws", "p3.2xlarge"): (3.06, 0.92),
    ("aws", "p3.8xlarge"): (12.24, 3.67),
    ("aws", "p3.16xlarge"): (24.48, 7.34),
    ("aws", "g5.xlarge"): (1.006, 0.39),
    ("aws", "g5.2xlarge"): (1.212, 0.46),
    ("aws", "g5.12xlarge"): (5.672, 2.13),
    ("aws", "g5.48xlarge"): (16.288, 6.10),
    ("aws", "g6.xlarge"): (0.805, 0.31),
    ("gcp", "a3-highgpu-8g"): (88.25, 31.90),
    ("gcp", "a2-highgpu-1g"): (3.67, 1.47),
    ("gcp", "a2-highgpu-8g"): (29.39, 11.76),
    ("gcp", "a2-ultragpu-8g"): (40.55, 16.22),
    ("gcp", "g2-standard-8"): (0.85, 0.34),
    ("gcp", "g2-standard-48"): (4.00, 1.60),
    ("azure", "Standard_ND96asr_v4"): (27.20, 8.16),
    ("azure", "Standard_ND96amsr_A100_v4"): (32.77, 9.83),
    ("azure", "Standard_ND96isr_H100_v5"): (98.32, 29.50),
    ("azure", "Standard_NC4as_T4_v3"): (0.526, 0.158),
    ("azure", "Standard_NC24ads_A100_v4"): (3.673, 1.10),
}


def _bundled() -> dict[tuple[str, str], InstancePrice]:
    out = {}
    for (provider, itype), (on_demand, spot) in _BUNDLED_PRICES.items():
        gpus = gpus_per_instance(provider, itype)
        if gpus is None:  # every bundled type is in the table (tested)
            raise ValueError(f"{provider}:{itype} is not in gpu.models.TABLE")
        out[(provider, itype)] = InstancePrice(int(gpus), on_demand, spot)
    return out


BUNDLED: dict[tuple[str, str], InstancePrice] = _bundled()


@dataclass(frozen=True)
class NodePrice:
    hourly: float | None  # USD per hour, the node
    per_gpu: float | None  # USD per GPU-hour
    gpus: int | None
    basis: str | None  # "config", "GCP catalog 2026-10-01", "bundled 2026-11-01"


NO_PRICE = NodePrice(None, None, None, None)
SPOT_USAGE = {"OnDemand": False, "Preemptible": True}  # catalog usage types
_MODEL = re.compile(r"\b(GB200|B200|H200|H100|A100|L40S|L4|T4|V100|P100|P4|K80|A10G|A10)\b")


def gpu_model(text: str | None) -> str | None:
    """The GPU model in an NVML name or a catalog description, as one key:
    "NVIDIA A100-SXM4-80GB" and "Nvidia Tesla A100 80GB GPU running in Americas" both give
    "A100 80GB"."""
    if not text:
        return None
    upper = text.upper()
    found = _MODEL.search(upper)
    if not found:
        return None
    model = found.group(1)
    if model == "A100" and "80GB" in upper.replace(" ", ""):
        model += " 80GB"
    if "MEGA" in upper:
        model += " MEGA"
    return model


def load_catalog(db: Database) -> dict[tuple[str, bool], list[tuple[set[str], float, str]]]:
    """GCP catalog GPU prices in USD per hour: (model, spot) -> [(regions, price, date)]."""
    catalog: dict[tuple[str, bool], list[tuple[set[str], float, str]]] = {}
    for description, usage, regions, currency, unit, price, effective, loaded in db.execute(
        "SELECT description, usage_type, regions, currency, unit, price, effective_time, "
        "loaded_at FROM gpu_prices WHERE provider = 'Google Cloud'"
    ):
        model = gpu_model(description)
        if not model or currency != "USD" or unit != "h" or usage not in SPOT_USAGE:
            continue
        key = (model, SPOT_USAGE[usage])
        catalog.setdefault(key, []).append(
            (set(json.loads(regions)), float(price), (effective or loaded or "")[:10])
        )
    return catalog


class PriceBook:
    def __init__(
        self,
        overrides: Mapping[tuple[str, str], InstancePrice] | None = None,
        catalog: Mapping[tuple[str, bool], list[tuple[set[str], float, str]]] | None = None,
    ):
        self.overrides = dict(overrides or {})
        self.catalog = catalog or {}

    def with_catalog(self, db: Database) -> PriceBook:
        """This book plus the catalog prices in the cache (read once per fleet view)."""
        return PriceBook(self.overrides, load_catalog(db))

    def node(
        self,
        provider: str | None,
        instance_type: str | None,
        spot: bool | None,
        gpu_name: str | None = None,
        region: str | None = None,
        gpus: int | None = None,
    ) -> NodePrice:
        """The node's price and where it comes from; NO_PRICE when nothing matches."""
        key = (provider or "", instance_type or "")
        if key in self.overrides:
            return _instance(self.overrides[key], spot, "config")
        if provider == "gcp" and region and gpus:
            for regions, per_gpu, day in self.catalog.get((gpu_model(gpu_name), bool(spot)), []):
                if region in regions:
                    return NodePrice(per_gpu * gpus, per_gpu, gpus, f"GCP catalog {day}")
        if key in BUNDLED:
            return _instance(BUNDLED[key], spot, f"bundled {PRICES_AS_OF}")
        return NO_PRICE


def _instance(price: InstancePrice, spot: bool | None, basis: str) -> NodePrice:
    hourly = price.spot if spot and price.spot is not None else price.on_demand
    return NodePrice(hourly, hourly / max(price.gpus, 1), price.gpus, basis)


def parse_overrides(raw: object) -> dict[tuple[str, str], InstancePrice]:
    """[gpu_prices] "aws:p4d.24xlarge" = {gpus = 8, on_demand = 30.0, spot = 10.0}"""
    from finops_bot.errors import ConfigError

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError('[gpu_prices] must be a table of "provider:instance-type" = {...}')
    out = {}
    for key, value in raw.items():
        provider, _, itype = str(key).partition(":")
        if provider not in ("aws", "gcp", "azure") or not itype or not isinstance(value, dict):
            raise ConfigError(
                f'[gpu_prices] {key!r}: use "aws|gcp|azure:<instance type>" = '
                "{gpus = N, on_demand = USD, spot = USD}"
            )
        try:
            out[(provider, itype)] = InstancePrice(
                int(value["gpus"]),
                float(value["on_demand"]),
                float(value["spot"]) if value.get("spot") is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"[gpu_prices] {key!r}: needs gpus and on_demand numbers") from None
    return out
