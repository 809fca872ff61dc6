"""Hourly prices of common GPU instance types: a bundled, dated table (on-demand list prices;
Spot prices indicative, they move), overridable in config ([gpu_prices]) and later from the
catalog prices the billing sources load (gpu_prices table)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PRICES_AS_OF = "2026-11-01"


@dataclass(frozen=True)
class InstancePrice:
    gpus: int
    on_demand: float  # USD per hour, whole instance
    spot: float | None


BUNDLED: dict[tuple[str, str], InstancePrice] = {
    ("aws", "p5.48xlarge"): InstancePrice(8, 98.32, 35.40),
    ("aws", "p4d.24xlarge"): InstancePrice(8, 32.77, 11.57),
    ("aws", "p4de.24xlarge"): InstancePrice(8, 40.97, 14.70),
    ("aws", "p3.2xlarge"): InstancePrice(1, 3.06, 0.92),
    ("aws", "p3.8xlarge"): InstancePrice(4, 12.24, 3.67),
    ("aws", "p3.16xlarge"): InstancePrice(8, 24.48, 7.34),
    ("aws", "g5.xlarge"): InstancePrice(1, 1.006, 0.39),
    ("aws", "g5.2xlarge"): InstancePrice(1, 1.212, 0.46),
    ("aws", "g5.12xlarge"): InstancePrice(4, 5.672, 2.13),
    ("aws", "g5.48xlarge"): InstancePrice(8, 16.288, 6.10),
    ("aws", "g6.xlarge"): InstancePrice(1, 0.805, 0.31),
    ("gcp", "a3-highgpu-8g"): InstancePrice(8, 88.25, 31.90),
    ("gcp", "a2-highgpu-1g"): InstancePrice(1, 3.67, 1.47),
    ("gcp", "a2-highgpu-8g"): InstancePrice(8, 29.39, 11.76),
    ("gcp", "a2-ultragpu-8g"): InstancePrice(8, 40.55, 16.22),
    ("gcp", "g2-standard-8"): InstancePrice(1, 0.85, 0.34),
    ("gcp", "g2-standard-48"): InstancePrice(4, 4.00, 1.60),
    ("azure", "Standard_ND96asr_v4"): InstancePrice(8, 27.20, 8.16),
    ("azure", "Standard_ND96amsr_A100_v4"): InstancePrice(8, 32.77, 9.83),
    ("azure", "Standard_ND96isr_H100_v5"): InstancePrice(8, 98.32, 29.50),
    ("azure", "Standard_NC4as_T4_v3"): InstancePrice(1, 0.526, 0.158),
    ("azure", "Standard_NC24ads_A100_v4"): InstancePrice(1, 3.673, 1.10),
}


class PriceBook:
    def __init__(self, overrides: Mapping[tuple[str, str], InstancePrice] | None = None):
        self.table = {**BUNDLED, **(overrides or {})}

    def hourly(
        self, provider: str | None, instance_type: str | None, spot: bool | None
    ) -> tuple[float | None, int | None]:
        """(USD per hour for the instance, its GPU count); (None, None) when unknown."""
        if not provider or not instance_type:
            return None, None
        price = self.table.get((provider, instance_type))
        if price is None:
            return None, None
        if spot and price.spot is not None:
            return price.spot, price.gpus
        return price.on_demand, price.gpus


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
