"""Commitment and Spot advice per GPU instance family: a range and its assumptions.

The steady baseline is the P10 of hourly-equivalent instance counts (instance-hours in
each UTC hour; an hour with none counts 0), never of daily averages: 8 instances by day
and 2 by night is a daily average of about 5.5 every day, and a commitment to 5 would be
paid for and idle every night. Hourly counts come from hourly billing (store
instance_hours) or, where billing is daily, from heartbeats; failing both the daily-average
P10 is given as an upper bound, labelled so.

Per family: commit to the baseline (whole instances, less what is already committed); move
the resumable share (gpu.resume) of the work above it to Spot; the rest stays on demand.
Savings are monthly (730 hours) at the dated discount ranges (gpu.commitment_prices),
counting the hours a commitment would go unused. Nothing here buys anything.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sqlite_utils import Database

from finops_bot.gpu.commitment_prices import Discount, commitment, spot
from finops_bot.gpu.models import classify, normalise_instance_type
from finops_bot.gpu.prices import PriceBook
from finops_bot.gpu.resume import resumable
from finops_bot.providers import cloud_of
from finops_bot.store import instance_hours as store

MONTH_HOURS = 730
PERCENTILE = 10
MIN_DAYS, MAX_DAYS = 30, 90
MIN_HOURLY_DAYS = 7  # fewer days of hourly data than this: not a baseline
TERMS = ("1y", "3y")
ON_DEMAND = ("standard", "on-demand", "ondemand", "")  # FOCUS PricingCategory spellings


def family_of(provider: str, instance_type: str) -> str:
    """The family a commitment is bought for: AWS ``p4d`` (before the "."), GCP ``a2``
    (the machine family), Azure the VM series (``ND A100 v4``, ``NC T4 v3``)."""
    itype = normalise_instance_type(instance_type)
    cloud = cloud_of(provider)
    if cloud == "azure" or itype.startswith("Standard_"):
        parts = itype.removeprefix("Standard_").split("_")
        letters = "".join(c for c in parts[0] if c.isalpha() and c.isupper()) or parts[0]
        return " ".join([letters[:2], *parts[1:]])
    if cloud == "gcp" or ("-" in itype and "." not in itype):
        return itype.split("-", 1)[0]
    return itype.removeprefix("ml.").split(".", 1)[0]


def _on_demand(pricing: str) -> bool:
    return (pricing or "").strip().lower() in ON_DEMAND


def _spot(pricing: str) -> bool:
    return (pricing or "").strip().lower() in ("dynamic", "spot")


@dataclass
class FamilyUsage:
    """What the advice for one family is made of (gathered from the store)."""

    provider: str  # cloud id
    family: str
    types: set[str] = field(default_factory=set)
    hourly: np.ndarray | None = None  # non-Spot instances per hour of the hourly span
    hourly_source: str | None = None  # "billing hourly" | "heartbeats"
    hourly_days: int = 0
    daily: np.ndarray | None = None  # non-Spot average instances per day of the window
    committed: float = 0.0  # instances already under a commitment (average)
    spot_hours: float = 0.0  # instance-hours already on Spot in the window
    rate: float | None = None  # on-demand cost of one instance-hour
    currency: str | None = None
    rate_basis: str = ""
    resumable_share: float | None = None  # None: no heartbeats for the family
    resumable_nodes: dict[str, str] = field(default_factory=dict)
    # currency → [instance-hours, of them on demand, their on-demand cost]
    currencies: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Range:
    low: float
    high: float


@dataclass
class Advice:
    usage: FamilyUsage
    baseline: float  # the P10 of hourly counts (or of daily averages: upper_bound)
    daily_p10: float
    upper_bound: bool
    commit: int  # whole instances advised beyond what is committed already
    savings: dict[str, Range]  # term → monthly savings of committing ``commit``
    discounts: dict[str, Discount]
    daily_savings: dict[str, float]  # term → monthly savings of committing the daily P10
    above_hours: float  # monthly instance-hours above the commitment
    spot_savings: Range | None
    spot_discount: Discount | None
    on_demand_cost: float  # monthly on-demand cost left above the commitment and Spot
    monthly_cost: float  # the family's non-Spot usage at the on-demand rate, monthly


def percentile(values: np.ndarray, q: float = PERCENTILE) -> float:
    return float(np.percentile(values, q)) if len(values) else 0.0


def commit_gain(counts: np.ndarray, held: float, extra: float, discount: float) -> float:
    """Instance-hours saved per hour (on average) by committing ``extra`` instances on
    top of ``held`` at ``discount``: the hours it covers cost (1 − discount), and it is
    paid for every hour, used or not."""
    if extra <= 0 or not len(counts):
        return 0.0
    covered = np.minimum(counts, held + extra) - np.minimum(counts, held)
    return float(covered.mean() - extra * (1 - discount))


def advise(u: FamilyUsage) -> Advice:
    """The advice for one family (pure: everything comes in ``u``)."""
    daily = u.daily if u.daily is not None else np.zeros(0)
    upper = u.hourly is None
    series = daily if upper else u.hourly
    baseline, daily_p10 = percentile(series), percentile(daily)
    held = u.committed
    extra = max(0, math.floor(baseline + 1e-9) - math.floor(held + 1e-9))
    rate = u.rate or 0.0
    savings, discounts, daily_savings = {}, {}, {}
    for term in TERMS:
        d = commitment(u.provider, term)
        if d is None:
            continue
        discounts[term] = d
        month = rate * MONTH_HOURS
        savings[term] = Range(
            commit_gain(series, held, extra, d.low) * month,
            commit_gain(series, held, extra, d.high) * month,
        )
        naive = max(0, math.floor(daily_p10 + 1e-9) - math.floor(held + 1e-9))
        daily_savings[term] = commit_gain(series, held, naive, (d.low + d.high) / 2) * month
    above = float(np.maximum(series - (held + extra), 0).mean()) * MONTH_HOURS if len(series) else 0
    sd = spot(u.provider)
    share = u.resumable_share or 0.0
    spot_savings = None
    if sd is not None and u.resumable_share is not None:
        spot_savings = Range(above * share * rate * sd.low, above * share * rate * sd.high)
    return Advice(
        usage=u,
        baseline=baseline,
        daily_p10=daily_p10,
        upper_bound=upper,
        commit=extra,
        savings=savings,
        discounts=discounts,
        daily_savings=daily_savings,
        above_hours=above,
        spot_savings=spot_savings,
        spot_discount=sd,
        on_demand_cost=above * (1 - share) * rate,
        monthly_cost=float(series.mean()) * MONTH_HOURS * rate if len(series) else 0.0,
    )


# -- gathering from the store -----------------------------------------------------------


def _per_unit(provider: str, itype: str) -> float | None:
    """Usage hours per instance-hour of an hourly billing row: GCP bills a machine's GPUs
    as GPU SKUs, one GPU-hour per unit; AWS and Azure bill the instance's hours."""
    info = classify(itype)
    if info is None:
        return None
    return info.gpus if info.kind == "machine" else 1.0


def _gpus(itype: str) -> float | None:
    info = classify(itype)
    return info.gpus if info is not None and info.gpus else None


@dataclass
class Window:
    first: int  # day numbers, inclusive
    last: int

    @property
    def days(self) -> int:
        return self.last - self.first + 1


def gather(db: Database, prices: PriceBook, window: Window) -> dict[tuple[str, str], FamilyUsage]:
    """Every GPU family's usage in ``window``: (provider, family) → FamilyUsage."""
    families: dict[tuple[str, str], FamilyUsage] = {}

    def fam(provider: str, itype: str) -> FamilyUsage:
        cloud = cloud_of(provider)
        key = (cloud, family_of(cloud, itype))
        found = families.setdefault(key, FamilyUsage(*key))
        found.types.add(normalise_instance_type(itype))
        return found

    days = window.days
    committed: dict[tuple[str, str], float] = defaultdict(float)
    for row in store.daily_usage(db, window.first, window.last):
        gpus = _gpus(row.instance_type)
        if gpus is None:
            continue
        u, count = fam(row.provider, row.instance_type), row.hours / gpus
        if u.daily is None:
            u.daily = np.zeros(days)
        if _spot(row.pricing_category):
            u.spot_hours += count
            continue
        u.daily[row.at - window.first] += count / 24
        money = u.currencies.setdefault(row.currency, [0.0, 0.0, 0.0])
        money[0] += count
        if _on_demand(row.pricing_category):
            money[1], money[2] = money[1] + count, money[2] + row.cost
        elif row.pricing_category.strip().lower() == "committed":
            committed[(u.provider, u.family)] += count
    for key, hours in committed.items():
        families[key].committed = hours / (days * 24)
    _billing_hourly(db, window, fam, families)
    _heartbeats(db, window, fam, families)
    for u in families.values():
        _rate(u, prices)
    return families


def _span(first_hour: int, last_hour: int, window: Window) -> tuple[int, int]:
    """The hours from the first to the last the source holds, inside the window: outside
    them the source says nothing (not zero instances)."""
    return max(first_hour, window.first * 24), min(last_hour, window.last * 24 + 23) + 1


def _billing_hourly(db, window: Window, fam, families) -> None:
    rows = store.hourly_usage(db, window.first, window.last)
    if not rows:
        return
    lo, hi = _span(min(r.at for r in rows), max(r.at for r in rows), window)
    if (hi - lo) < MIN_HOURLY_DAYS * 24:
        return
    for row in rows:
        unit = _per_unit(row.provider, row.instance_type)
        if unit is None or _spot(row.pricing_category):
            continue
        u = fam(row.provider, row.instance_type)
        if u.hourly_source != "billing hourly":
            u.hourly, u.hourly_source, u.hourly_days = (
                np.zeros(hi - lo),
                "billing hourly",
                round((hi - lo) / 24),
            )
        if lo <= row.at < hi:
            u.hourly[row.at - lo] += row.hours / unit


def _heartbeats(db, window: Window, fam, families) -> None:
    """Hourly counts from heartbeats for families billing gave none for; the resumable
    share of every family's on-demand node-minutes."""
    rows = store.heartbeat_hours(db, window.first, window.last)
    if not rows:
        return
    lo, hi = _span(min(r.hour for r in rows), max(r.hour for r in rows), window)
    enough = (hi - lo) >= MIN_HOURLY_DAYS * 24
    nodes = {r.node for r in rows if not r.spot}
    resumes = resumable(db, nodes)
    minutes: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        if row.spot or _gpus(row.instance_type) is None:
            continue
        u = fam(row.provider or "", row.instance_type)
        share = minutes[(u.provider, u.family)]
        share[0] += row.minutes
        if row.node in resumes:
            share[1] += row.minutes
            u.resumable_nodes[row.node] = resumes[row.node]
        if enough and u.hourly_source in (None, "heartbeats"):
            if u.hourly_source is None:
                u.hourly, u.hourly_source, u.hourly_days = (
                    np.zeros(hi - lo),
                    "heartbeats",
                    round((hi - lo) / 24),
                )
            if lo <= row.hour < hi:
                u.hourly[row.hour - lo] += min(row.minutes, 60) / 60
    for key, (total, kept) in minutes.items():
        if total:
            families[key].resumable_share = kept / total
    for u in families.values():
        if u.daily is None and u.hourly is not None:  # no billing: days from the hours
            u.daily = u.hourly[: len(u.hourly) // 24 * 24].reshape(-1, 24).mean(axis=1)


def _rate(u: FamilyUsage, prices: PriceBook) -> None:
    """The on-demand cost of an instance-hour: what billing charged on demand, else the
    price book's on-demand price of the family's type."""
    if u.currencies:  # money is never mixed: the currency most of the hours were billed in
        u.currency = max(u.currencies, key=lambda c: u.currencies[c][0])
        _, hours, cost = u.currencies[u.currency]
        if hours > 0 and cost > 0:
            u.rate, u.rate_basis = cost / hours, "billed on-demand cost per instance-hour"
            return
        if u.currency != "USD":  # the price book is in USD
            return
    for itype in sorted(u.types):
        price = prices.node(u.provider, itype, False)
        if price.hourly is not None:
            u.rate, u.rate_basis = price.hourly, f"{itype} on-demand price ({price.basis})"
            u.currency = "USD"
            return
