"""What keeps billing when an instance is stopped: its disks and its static addresses, from
a dated price table (the pattern of SkyPilot's dated catalogs). List prices in USD for the
cheapest common region of each cloud; the saving a card shows is the instance's hourly
price net of these, and the card names the table's date."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PRICES_AS_OF = "2026-11-01"
HOURS_PER_MONTH = 730
# USD per GB-month, by the disk kind the cloud reports
DISK_GB_MONTH = {
    "aws": {
        "gp3": 0.08,
        "gp2": 0.10,
        "io1": 0.125,
        "io2": 0.125,
        "st1": 0.045,
        "sc1": 0.015,
        "standard": 0.05,
    },  # https://aws.amazon.com/ebs/pricing/ (us-east-1)
    "gcp": {
        "pd-standard": 0.04,
        "pd-balanced": 0.10,
        "pd-ssd": 0.17,
        "pd-extreme": 0.125,
        "hyperdisk-balanced": 0.08,
        "persistent": 0.10,
    },  # cloud.google.com/compute/disks-image-pricing
    "azure": {
        "premium_lrs": 0.132,
        "premiumv2_lrs": 0.12,
        "standardssd_lrs": 0.075,
        "standard_lrs": 0.045,
    },  # azure.microsoft.com/pricing/details/managed-disks/
}
DEFAULT_DISK = {"aws": 0.08, "gcp": 0.10, "azure": 0.132}  # an unknown kind: the common one
ADDRESS_HOUR = {"aws": 0.005, "gcp": 0.01, "azure": 0.005}  # a public IPv4 kept while stopped


@dataclass(frozen=True)
class KeepsBilling:
    hourly: float
    parts: tuple[str, ...]  # "500 GB gp3 at $0.08/GB-month", "1 static IP at $0.005/h"

    def describe(self) -> str:
        if not self.parts:
            return "nothing keeps billing"
        return ", ".join(self.parts) + f" (list prices of {PRICES_AS_OF})"


def keeps_billing(
    cloud: str, disks_gb: Iterable[tuple[str, float]], addresses: int
) -> KeepsBilling:
    """Disks × their GB-month price / 730 h, plus static addresses × their hourly price."""
    table = DISK_GB_MONTH.get(cloud, {})
    hourly, parts = 0.0, []
    by_kind: dict[str, float] = {}
    for kind, size in disks_gb:
        by_kind[kind] = by_kind.get(kind, 0.0) + float(size or 0)
    for kind, size in sorted(by_kind.items()):
        price = table.get(kind.lower(), DEFAULT_DISK.get(cloud, 0.10))
        hourly += size * price / HOURS_PER_MONTH
        parts.append(f"{size:g} GB {kind} at ${price:g}/GB-month")
    if addresses:
        price = ADDRESS_HOUR.get(cloud, 0.005)
        hourly += addresses * price
        parts.append(f"{addresses} static IP{'s' if addresses > 1 else ''} at ${price:g}/h")
    return KeepsBilling(hourly, tuple(parts))
