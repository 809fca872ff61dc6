"""A deterministic, labelled daily-cost generator for the anomaly benchmark.

Per project 2-4 real AWS or Google Cloud services, each with a log-uniform base level
($150-$5,000/day), slow growth (0-0.3%/day), weekly seasonality (weekends 30-50% lower) on
a third of the projects, and heavy-tailed multiplicative noise: each service-day is
multiplied by 1 + noise * t, t ~ Student-t(df=4), noise = 0.03 by default.

Labelled events (``Event``): spikes (1-3 days, +60% to +300% on one service), level shifts
(+40% to +150%, persistent) and drifts (a 14-21 day ramp to +80% to +250% of the service,
reaching the margins by its 5th day, then flat), one
level shift followed 10 days later by a spike on two projects, and about 40% of events on a
service that is not the project's largest. Each event is sized against the noise-free
series on its start day so the project-level change (``dollars``, ``relative``) clears
$75/day and 25% (margins over the detector's $50 and 20%). Hard negatives (``Negative``)
that must not alert: commitment purchases (ChargeCategory Purchase, EffectiveCost 0),
credits (negative) and drops (a service falling 50% for good).

    python bench/anomaly_gen.py OUT.csv [--seed 0] [--projects 50] [--days 150]
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

CATALOGUE = {
    "AWS": [
        ("Amazon Elastic Compute Cloud", "Compute"),
        ("Amazon Simple Storage Service", "Storage"),
        ("Amazon SageMaker", "AI and Machine Learning"),
        ("Amazon Relational Database Service", "Databases"),
        ("AWS Data Transfer", "Networking"),
        ("Amazon CloudWatch", "Management and Governance"),
    ],
    "Google Cloud": [
        ("Compute Engine", "Compute"),
        ("Cloud Storage", "Storage"),
        ("BigQuery", "Analytics"),
        ("Vertex AI", "AI and Machine Learning"),
        ("Cloud SQL", "Databases"),
    ],
}
REGIONS = {"AWS": ["us-east-1", "us-west-2", "eu-west-1"], "Google Cloud": ["us-central1"]}
PURCHASE_SERVICE = {"AWS": "Savings Plans for AWS Compute usage", "Google Cloud": "Compute Engine"}
RANGES = {"spike": (0.6, 3.0), "level_shift": (0.4, 1.5), "drift": (0.8, 2.5)}
DRIFT_SEEN = 5  # a drift reaches the margins by this day of its ramp (alertable in 7 days)
KIND_P = {"spike": 0.45, "level_shift": 0.30, "drift": 0.25}
GAP = {"spike": 21, "level_shift": 30, "drift": 21, "drop": 30}  # drift: after its ramp
FIRST_DAY = 35  # no event before the detector has history
REL_MIN, DOLLARS_MIN = 0.25, 75.0  # each event's project-level size at least
LIMIT_REL, LIMIT_DOLLARS = 0.20, 50.0  # the detector's default thresholds (feasibility)
WINDOW = {"spike": 2, "level_shift": 2, "drift": 7}  # days after start an alert may match


@dataclass(frozen=True)
class Event:
    project: str
    kind: str  # spike, level_shift, drift
    start: int  # day index of the first changed day
    service: str  # the service that moves
    multiplier: float  # the service's change: +1.0 = doubled (drift: at the ramp's end)
    dollars: float  # the project-level daily change on the start day (drift: ramp's end)
    relative: float  # dollars / the project's noise-free total on that day
    length: int = 1  # spike days
    ramp: int = 0  # drift ramp days
    largest: bool = True  # the service was the project's largest on the start day
    after_shift: bool = False  # a spike 10 days after a level shift on the same project
    feasible: bool = True  # some day in the match window clears $50 and 20% without noise


@dataclass(frozen=True)
class Negative:
    project: str
    kind: str  # purchase, credit, drop
    start: int
    service: str
    amount: float  # purchase: BilledCost; credit: the (negative) cost; drop: the multiplier


@dataclass(frozen=True)
class ProjectInfo:
    provider: str
    account: str
    region: str
    team: str
    owner: str
    seasonal: bool


@dataclass
class Dataset:
    start: date
    days: int
    projects: list[str]
    info: dict[str, ProjectInfo]
    by_service: dict[str, dict[str, np.ndarray]]
    events: list[Event] = field(default_factory=list)
    negatives: list[Negative] = field(default_factory=list)
    committed_from: dict[tuple[str, str], int] = field(default_factory=dict)
    clean: dict[str, np.ndarray] = field(default_factory=dict)  # noise-free usage totals
    seed: int = 0

    @property
    def usage(self) -> dict[str, np.ndarray]:
        """Daily usage totals per project (ChargeCategory Usage only: what the detector sees)."""
        return {p: np.sum(list(s.values()), axis=0) for p, s in self.by_service.items()}

    def to_focus_rows(self) -> Iterator[dict[str, str]]:
        """FOCUS 1.0 rows: one Usage row per project, service and day, then the purchases
        and credits."""
        for p in self.projects:
            for service, values in self.by_service[p].items():
                committed = self.committed_from.get((p, service), self.days)
                for d, cost in enumerate(values.tolist()):
                    pricing = "Committed" if d >= committed else "Standard"
                    yield self._row(p, service, d, cost, cost, "Usage", pricing)
        for n in self.negatives:
            if n.kind == "purchase":
                yield self._row(n.project, n.service, n.start, n.amount, 0.0, "Purchase")
            elif n.kind == "credit":
                yield self._row(n.project, n.service, n.start, n.amount, n.amount, "Credit", "")

    def write_focus_csv(self, path: str | Path) -> Path:
        """Write ``to_focus_rows()`` as a FOCUS CSV; → the path."""
        path = Path(path)
        rows = self.to_focus_rows()
        first = next(rows)
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(first))
            writer.writeheader()
            writer.writerow(first)
            writer.writerows(rows)
        return path

    def _row(self, p, service, d, billed, effective, category, pricing="Committed"):
        info = self.info[p]
        day = self.start + timedelta(days=d)
        month = day.replace(day=1)
        month_end = (month + timedelta(days=32)).replace(day=1)
        categories = dict(CATALOGUE[info.provider])
        slug = service.lower().replace(" ", "-")
        return {
            "BillingAccountId": "999000000001" if info.provider == "AWS" else "01AB23-CD45EF",
            "BillingAccountName": "finops-bench",
            "BillingPeriodStart": f"{month}T00:00:00Z",
            "BillingPeriodEnd": f"{month_end}T00:00:00Z",
            "ChargePeriodStart": f"{day}T00:00:00Z",
            "ChargePeriodEnd": f"{day + timedelta(days=1)}T00:00:00Z",
            "BilledCost": f"{billed:.6f}",
            "EffectiveCost": f"{effective:.6f}",
            "ListCost": f"{billed * {'Committed': 1.25, '': 0.0}.get(pricing, 1.0):.6f}",
            "BillingCurrency": "USD",
            "ChargeCategory": category,
            "ProviderName": info.provider,
            "ServiceName": service,
            "ServiceCategory": categories.get(service, "Compute"),
            "SubAccountId": info.account,
            "SubAccountName": f"{p}-account",
            "RegionId": info.region,
            "ResourceId": f"{p}/{slug}",
            "ResourceType": category if category != "Usage" else "Service",
            "SkuId": f"sku-{slug}-{category.lower()}",
            "PricingCategory": pricing,
            "Tags": json.dumps({"project": p, "team": info.team, "owner": info.owner}),
        }


def generate(
    seed: int,
    projects: int = 50,
    days: int = 150,
    start: date = date(2026, 5, 1),
    noise: float = 0.03,
) -> Dataset:
    """The labelled dataset of ``seed`` (same arguments, same data)."""
    rng = np.random.default_rng(seed)
    weekend = np.array([(start + timedelta(days=d)).weekday() >= 5 for d in range(days)])
    names = [f"p-{i:03d}" for i in range(projects)]
    seasonal = set(rng.choice(projects, projects // 3, replace=False).tolist())
    pairs = set(rng.choice(projects, min(2, projects), replace=False).tolist())
    data = Dataset(start, days, names, {}, {}, seed=seed)
    for i, p in enumerate(names):
        provider = "AWS" if rng.random() < 0.8 else "Google Cloud"
        data.info[p] = ProjectInfo(
            provider,
            f"{100000000000 + 7919 * (i % 12)}" if provider == "AWS" else f"gcp-proj-{i:03d}",
            REGIONS[provider][int(rng.integers(len(REGIONS[provider])))],
            f"t-{i // 5:02d}",
            f"o{i:03d}@example.com",
            i in seasonal,
        )
        catalogue = CATALOGUE[provider]
        picks = rng.choice(len(catalogue), int(rng.integers(2, 5)), replace=False)
        services = [catalogue[k][0] for k in picks]
        level = np.exp(rng.uniform(np.log(150), np.log(5000), len(services)))
        growth = rng.uniform(0.0, 0.003, len(services))
        clean = level[:, None] * (1 + growth[:, None]) ** np.arange(days)[None, :]
        if i in seasonal:
            clean *= np.where(weekend, 1 - rng.uniform(0.3, 0.5), 1.0)[None, :]
        _schedule(data, p, services, clean, rng, i in pairs)
        data.clean[p] = clean.sum(axis=0)
        shaped = clean * np.maximum(1 + noise * rng.standard_t(4, clean.shape), 0.05)
        data.by_service[p] = {s: np.round(shaped[k], 4) for k, s in enumerate(services)}
        _money_negatives(data, p, services, clean, rng)
    return data


def _schedule(data, p, services, clean, rng, pair: bool) -> None:
    """Place the project's events and drops in day order, applying each to ``clean``."""
    days = clean.shape[1]
    last = days - 14
    n = int(rng.choice([0, 1, 2, 3], p=[0.2, 0.35, 0.3, 0.15]))
    plan = [str(rng.choice(list(KIND_P), p=list(KIND_P.values()))) for _ in range(n)]
    if rng.random() < 0.15:
        plan.insert(int(rng.integers(len(plan) + 1)), "drop")
    if pair:
        plan.insert(0, "pair")
    day = FIRST_DAY + int(rng.integers(0, 15))
    for kind in plan:
        if day > last:
            break
        if kind == "drop":
            k = int(rng.integers(len(services)))
            clean[k, day:] *= 0.5
            data.negatives.append(Negative(p, "drop", day, services[k], 0.5))
            day += GAP["drop"] + int(rng.integers(0, 15))
            continue
        if kind == "pair":
            _event(data, p, services, clean, rng, "level_shift", day)
            _event(data, p, services, clean, rng, "spike", day + 10, after_shift=True)
            day += 10 + GAP["spike"] + int(rng.integers(0, 15))
            continue
        ramp = _event(data, p, services, clean, rng, kind, day)
        day += ramp + GAP[kind] + int(rng.integers(0, 15))


def _event(data, p, services, clean, rng, kind: str, day: int, after_shift=False) -> int:
    """Size one event so it clears the margins, apply it to ``clean``, label it; → ramp."""
    days = clean.shape[1]
    length = int(rng.integers(1, 4)) if kind == "spike" else 1
    ramp = int(rng.integers(14, 22)) if kind == "drift" else 0
    reach = ramp / DRIFT_SEEN if kind == "drift" else 1.0  # the change needed at the end
    k, m, largest = _pick(clean[:, day], kind, rng.random() < 0.4, rng, reach)
    before = clean.sum(axis=0)
    if kind == "spike":
        factor = np.zeros(days)
        factor[day : day + length] = m
    elif kind == "level_shift":
        factor = np.where(np.arange(days) >= day, m, 0.0)
    else:
        factor = m * np.clip((np.arange(days) - day + 1) / ramp, 0.0, 1.0)
    clean[k] *= 1 + factor
    excess = clean.sum(axis=0) - before
    window = slice(day, min(day + WINDOW[kind] + 1, days))
    feasible = bool(
        np.any((excess[window] >= LIMIT_DOLLARS) & (excess[window] >= LIMIT_REL * before[window]))
    )
    at = min(day + max(ramp - 1, 0), days - 1)
    data.events.append(
        Event(
            p,
            kind,
            day,
            services[k],
            round(m, 3),
            round(float(excess[at]), 2),
            round(float(excess[at] / before[at]), 3),
            length,
            ramp,
            largest == k,
            after_shift,
            feasible,
        )
    )
    return ramp


def _pick(
    values: np.ndarray, kind: str, want_other: bool, rng, reach: float = 1.0
) -> tuple[int, float, int]:
    """(service, multiplier, largest service) so that the project-level change clears the
    margins (``reach`` times them at the end: a drift's ramp clears them by DRIFT_SEEN
    days); a service other than the largest when ``want_other`` and one can."""
    lo, hi = RANGES[kind]
    total, largest = float(values.sum()), int(np.argmax(values))
    others = [k for k in rng.permutation(len(values)).tolist() if k != largest]
    for k in [*(others if want_other else []), largest]:
        need = reach * max(REL_MIN * total, DOLLARS_MIN) / values[k]
        if need <= hi:
            return k, float(rng.uniform(max(lo, need), hi)), largest
    return largest, reach * max(REL_MIN * total, DOLLARS_MIN) / values[largest], largest


def _money_negatives(data, p, services, clean, rng) -> None:
    """Purchases (a fifth of the projects) and monthly credits (another fifth)."""
    info, days = data.info[p], clean.shape[1]
    daily = float(clean[:, FIRST_DAY].sum())
    if rng.random() < 0.2:
        d = int(rng.integers(FIRST_DAY, days - 10))
        amount = round(daily * float(rng.uniform(50, 200)), 2)
        data.negatives.append(Negative(p, "purchase", d, PURCHASE_SERVICE[info.provider], amount))
        compute = ("Amazon Elastic Compute Cloud", "Compute Engine")
        covered = next((s for s in services if s in compute), None)
        data.committed_from[(p, covered or services[0])] = d + 1
    if rng.random() < 0.2:
        amount = -round(daily * float(rng.uniform(2, 10)), 2)
        for d in range(1, days):
            if (data.start + timedelta(days=d)).day == 1:
                data.negatives.append(Negative(p, "credit", d, services[0], amount))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--noise", type=float, default=0.03)
    args = parser.parse_args()
    data = generate(args.seed, args.projects, args.days, noise=args.noise)
    data.write_focus_csv(args.out)
    kinds: dict[str, int] = {}
    for e in [*data.events, *data.negatives]:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    print(json.dumps({"out": str(args.out), "projects": args.projects, **kinds}))


if __name__ == "__main__":
    main()
