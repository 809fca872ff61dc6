"""Why a subject's cost moved: its change decomposed by service, account, region,
resource, SKU and pricing category, each value's contribution in dollars (what it cost
over the days, less what it cost before, scaled to the expected total the detector used).
Read through the store's read path; resources and SKUs from the facts, only for the
anomalies that are stored (and for "why" questions)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlite_utils import Database

from finops_bot.store import reads
from finops_bot.store.facts import fact_grouped
from finops_bot.store.reads import Where

ROOT_DIMENSIONS = ("service", "account", "region", "resource", "sku", "pricing")
BASELINE_DAYS = 28
PER_DIMENSION = 3
USAGE = ("Usage",)


def contributions(
    db: Database,
    where: Where,
    by: str,
    now: tuple[date, date],
    before: tuple[date, date],
    measure: str,
    currency: str,
    categories: tuple[str, ...] | None = USAGE,
) -> tuple[dict[str, float], dict[str, float]]:
    """(value → total over ``now``, value → total over ``before``) in one currency."""
    if by in ("resource", "sku"):
        return tuple(
            fact_grouped(db, where, by, a, b, measure, currency, categories)
            for a, b in (now, before)
        )
    out = []
    for a, b in (now, before):
        rows = reads.grouped(db, where, by, a, b, measure, categories)
        out.append({value: total for value, cur, total in rows if cur == currency})
    return out[0], out[1]


def root_causes(
    db: Database,
    dim: str,
    key: str,
    currency: str,
    start: date,
    last: date,
    measure: str,
    expected: float,
    impact: float,
    first_day: date | None = None,
) -> list[dict]:
    """Ranked ``{dimension, value, impact, share}``: the values that moved the most, by
    dollars, at most PER_DIMENSION per dimension; ``share`` of the total change."""
    where = Where.of({dim: [key]}) if dim != "*" else Where()
    days = (last - start).days + 1
    base_end = start - timedelta(days=1)
    base_start = max(start - timedelta(days=BASELINE_DAYS), first_day or date.min)
    base_days = max((base_end - base_start).days + 1, 1)
    found: list[dict] = []
    for order, by in enumerate(ROOT_DIMENSIONS):
        if by == dim:
            continue
        now, before = contributions(
            db, where, by, (start, last), (base_start, base_end), measure, currency
        )
        usual = {v: total / base_days * days for v, total in before.items()}
        scale = expected / sum(usual.values()) if sum(usual.values()) > 0 else 1.0
        moved = {v: now.get(v, 0.0) - usual.get(v, 0.0) * scale for v in {*now, *usual}}
        ranked = sorted(((c, v) for v, c in moved.items() if c > 0), key=lambda x: -x[0])
        for impact, value in ranked[:PER_DIMENSION]:
            found.append({"dimension": by, "value": value or "(none)", "impact": impact,
                          "_order": order})  # fmt: skip
    found.sort(key=lambda f: (-round(f["impact"], 2), f["_order"]))
    for f in found:
        f["share"] = float(round(f["impact"] / impact, 4)) if impact > 0 else None
        f["impact"] = float(round(f.pop("impact"), 2))
        del f["_order"]
    return found
