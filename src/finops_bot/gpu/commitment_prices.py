"""The providers' published commitment and Spot discounts for GPU instance families, as a
dated table (like SkyPilot's catalog: each row has the day it was read and its source).

Providers publish headline maxima ("up to 72%"), not one rate per GPU family, and the rate
of a given family, region and payment option is lower. So every row is a low–high range:
the high end never above the published maximum, the low end what a GPU family without an
upfront payment tends to get. Where a per-family figure could not be confirmed the note
says so and the range is kept conservative. Advice shows the table's date: the figures
change, and the provider's own calculator is the one to buy by.
"""

from __future__ import annotations

from dataclasses import dataclass

TABLE_AS_OF = "2026-12-02"  # the day the rows below were last read from their sources


@dataclass(frozen=True)
class Discount:
    provider: str  # aws | gcp | azure
    plan: str  # what is bought, as the provider names it
    term: str  # "1y", "3y" or "spot"
    low: float  # fraction off the on-demand rate
    high: float
    as_of: str
    source: str
    note: str = ""

    def describe(self) -> str:
        term = "" if self.term == "spot" else f" {self.term}"
        return f"{self.plan}{term}: {self.low:.0%}–{self.high:.0%} off on-demand"


_AWS_SP = "https://aws.amazon.com/savingsplans/compute-pricing/"
_GCP_CUD = "https://cloud.google.com/compute/docs/instances/signing-up-committed-use-discounts"
_AZURE_RI = "https://azure.microsoft.com/pricing/reserved-vm-instances"
_AWS_SPOT = "https://aws.amazon.com/ec2/spot/pricing/"
_GCP_SPOT = "https://cloud.google.com/compute/docs/instances/spot"
_AZURE_SPOT = "https://azure.microsoft.com/pricing/spot-advisor"
_HEADLINE = "the provider publishes only a maximum over all families; GPU rates not confirmed"

DISCOUNTS: tuple[Discount, ...] = (
    Discount("aws", "EC2 Instance Savings Plan", "1y", 0.25, 0.40, TABLE_AS_OF, _AWS_SP,
             f"published: up to 72% (3y, all upfront); {_HEADLINE}"),
    Discount("aws", "EC2 Instance Savings Plan", "3y", 0.40, 0.60, TABLE_AS_OF, _AWS_SP,
             f"published: up to 72%; {_HEADLINE}"),
    Discount("aws", "Compute Savings Plan", "1y", 0.20, 0.35, TABLE_AS_OF, _AWS_SP,
             f"published: up to 66%; {_HEADLINE}"),
    Discount("aws", "Compute Savings Plan", "3y", 0.35, 0.55, TABLE_AS_OF, _AWS_SP,
             f"published: up to 66%; {_HEADLINE}"),
    Discount("gcp", "resource-based committed use discount (A2/A3/G2)", "1y", 0.25, 0.37,
             TABLE_AS_OF, _GCP_CUD,
             "published: up to 57% for machine types and GPUs (the 3y maximum); the 1y "
             "figure for accelerator-optimized machines not confirmed"),
    Discount("gcp", "resource-based committed use discount (A2/A3/G2)", "3y", 0.45, 0.57,
             TABLE_AS_OF, _GCP_CUD, "published: up to 57% for machine types and GPUs"),
    Discount("azure", "Reserved VM Instance (ND/NC)", "1y", 0.20, 0.40, TABLE_AS_OF, _AZURE_RI,
             f"published: up to 72% (an M-series 3y example); {_HEADLINE}"),
    Discount("azure", "Reserved VM Instance (ND/NC)", "3y", 0.40, 0.60, TABLE_AS_OF, _AZURE_RI,
             f"published: up to 72% (an M-series 3y example); {_HEADLINE}"),
    Discount("aws", "Spot", "spot", 0.50, 0.70, TABLE_AS_OF, _AWS_SPOT,
             "published: up to 90%; GPU Spot is scarcer and dearer, and can be reclaimed"),
    Discount("gcp", "Spot VM", "spot", 0.55, 0.70, TABLE_AS_OF, _GCP_SPOT,
             "published: 60–91% off; GPU Spot nearer the low end, and can be reclaimed"),
    Discount("azure", "Spot VM", "spot", 0.50, 0.70, TABLE_AS_OF, _AZURE_SPOT,
             "published: up to 90%; GPU Spot capacity varies by region, can be evicted"),
)  # fmt: skip

# the plan advised per provider: the one tied to a family (deeper than the flexible one)
ADVISED = {"aws": "EC2 Instance Savings Plan"}


def commitment(provider: str, term: str) -> Discount | None:
    """The commitment row advised for ``provider`` and ``term`` ("1y" or "3y")."""
    plan = ADVISED.get(provider)
    for row in DISCOUNTS:
        if row.provider == provider and row.term == term and (plan is None or row.plan == plan):
            return row
    return None


def spot(provider: str) -> Discount | None:
    """The typical Spot discount range for ``provider``."""
    return next((r for r in DISCOUNTS if r.provider == provider and r.term == "spot"), None)
