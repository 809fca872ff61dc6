"""Commitment reads: savings plans and reservations as the exports describe them.

Every sum here runs over the charges that carry FOCUS commitment columns (the
``charge_extras`` side table, small next to the facts), joined to their dimension
combination, within a subject (``Where``) and a day span, one currency at a time (never
added across currencies). Definitions (the README's "Commitments"):

- used / unused: EffectiveCost of rows with CommitmentDiscountStatus Used / Unused, and in
  committed units, CommitmentDiscountQuantity of the same rows;
- coverage: usage hours (ChargeCategory Usage, ConsumedUnit in hours, not Spot) of the
  subject that a Usage-category commitment (a reservation) covered, over all of them;
- effective savings rate: (ListCost − EffectiveCost) ÷ ListCost over usage, and over
  contracted price (ContractedCost) where the rows carry it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlite_utils import Database

from finops_bot.days import day_iso, day_number
from finops_bot.store import reads
from finops_bot.store.reads import Where

HOUR_UNITS = ("hours", "hour", "hrs", "hr", "h", "instance-hours", "instance hours")
_JOIN = (
    "FROM charge_extras x CROSS JOIN charges c ON c.id = x.charge_id "  # CROSS: the side
    "CROSS JOIN charge_keys k ON k.id = c.key_id"  # table drives (SQLite keeps the order)
)


@dataclass(frozen=True)
class CommitmentUse:
    """One commitment's use over a span, in one currency."""

    id: str
    name: str
    category: str  # Spend (savings plans) or Usage (reservations); '' when not given
    type: str
    currency: str
    used: float  # EffectiveCost of its Used rows
    unused: float  # EffectiveCost of its Unused rows
    used_quantity: float | None  # CommitmentDiscountQuantity, when the rows carry it
    unused_quantity: float | None
    unit: str

    @property
    def committed(self) -> float:
        return self.used + self.unused


def _span(where: Where, start: date, end: date) -> tuple[str, list]:
    where_sql, params = where._keys_sql(start)
    return f"c.day BETWEEN ? AND ? AND {where_sql}", [day_number(start), day_number(end), *params]


def uses(
    db: Database, where: Where, start: date, end: date, category: str | None = None
) -> list[CommitmentUse]:
    """Each commitment's used and unused amounts over [start, end], largest first."""
    span, params = _span(where, start, end)
    cat = ""
    if category:
        cat = " AND x.commitment_discount_category = ?"
        params.append(category)
    rows = db.execute(
        "SELECT x.commitment_discount_id, MAX(COALESCE(x.commitment_discount_name, '')), "
        "MAX(COALESCE(x.commitment_discount_category, '')), "
        "MAX(COALESCE(x.commitment_discount_type, '')), k.currency, "
        "SUM(CASE WHEN x.commitment_discount_status = 'Used' THEN c.effective_cost END), "
        "SUM(CASE WHEN x.commitment_discount_status = 'Unused' THEN c.effective_cost END), "
        "SUM(CASE WHEN x.commitment_discount_status = 'Used' "
        "THEN x.commitment_discount_quantity END), "
        "SUM(CASE WHEN x.commitment_discount_status = 'Unused' "
        "THEN x.commitment_discount_quantity END), "
        f"MAX(COALESCE(x.commitment_discount_unit, '')) {_JOIN} "
        f"WHERE x.commitment_discount_id IS NOT NULL AND x.commitment_discount_status IN "
        f"('Used', 'Unused') AND {span}{cat} GROUP BY 1, 5",
        params,
    ).fetchall()
    out = [
        CommitmentUse(cid, name, cat_, typ, cur, used or 0.0, unused or 0.0, uq, unq, unit)
        for cid, name, cat_, typ, cur, used, unused, uq, unq, unit in rows
    ]
    return sorted(out, key=lambda u: (-u.committed, u.id))


@dataclass(frozen=True)
class Coverage:
    currency: str  # '' : hours have no currency; kept per billing currency of the rows
    covered_hours: float
    eligible_hours: float
    covered_cost: float
    eligible_cost: float


def coverage(db: Database, where: Where, start: date, end: date) -> list[Coverage]:
    """Usage hours covered by a reservation (a Usage-category commitment, Used) over every
    usage hour of the subject that is not Spot, per currency."""
    from finops_bot.store.detail_reads import Ask, grouped

    ask = Ask(
        (
            "BillingCurrency",
            "CommitmentDiscountCategory",
            "CommitmentDiscountStatus",
            "PricingCategory",
            "ConsumedUnit",
        ),
        ("ConsumedQuantity", "EffectiveCost"),
        {"ChargeCategory": ("Usage",)},
    )
    sums: dict[str, list[float]] = {}
    for currency, category, status, pricing, unit, hours, cost in grouped(
        db, where, start, end, ask
    ):
        if pricing == "Dynamic" or (unit or "").lower() not in HOUR_UNITS or status == "Unused":
            continue
        cell = sums.setdefault(currency, [0.0, 0.0, 0.0, 0.0])
        used = category == "Usage" and status == "Used"
        cell[0] += (hours or 0.0) if used else 0.0
        cell[1] += hours or 0.0
        cell[2] += (cost or 0.0) if used else 0.0
        cell[3] += cost or 0.0
    rows = [(cur, *cell) for cur, cell in sorted(sums.items())]
    return [
        Coverage(cur, ch or 0.0, eh or 0.0, cc or 0.0, ec or 0.0) for cur, ch, eh, cc, ec in rows
    ]


@dataclass(frozen=True)
class Savings:
    key: str  # '' for the subject as a whole, else the ``by`` value
    currency: str
    list_cost: float
    effective_cost: float
    contracted_cost: float | None  # over the rows that carry ContractedCost
    effective_on_contracted: float | None  # those rows' EffectiveCost

    @property
    def over_list(self) -> float | None:
        return (self.list_cost - self.effective_cost) / self.list_cost if self.list_cost else None

    @property
    def over_contracted(self) -> float | None:
        if not self.contracted_cost:
            return None
        return (self.contracted_cost - (self.effective_on_contracted or 0.0)) / self.contracted_cost


BY_COLUMNS = {
    "service": "k.service_name",
    "provider": "k.provider",
    "project": "k.project",
    "team": "k.team",
    "account": "k.sub_account_id",
    "region": "k.region",
}


def savings(
    db: Database, where: Where, start: date, end: date, by: str | None = None
) -> list[Savings]:
    """List and effective cost of usage (ChargeCategory Usage) from the rollups, per
    currency (and per ``by`` value): a row without a ListCost counts as list 0 (an unused
    commitment's row lowers the rate, as it should); contracted cost from the rows that
    carry it (the side table, small)."""
    usage = ("Usage",)
    if by:
        lists = reads.grouped(db, where, by, start, end, "ListCost", usage)
        effs = reads.grouped(db, where, by, start, end, "EffectiveCost", usage)
    else:
        lists = [
            ("", c, v) for c, v in reads.totals(db, where, start, end, "ListCost", usage).items()
        ]
        effs = [
            ("", c, v)
            for c, v in reads.totals(db, where, start, end, "EffectiveCost", usage).items()
        ]
    contracted = _contracted(db, where, start, end, by)
    effective = {(k, c): v for k, c, v in effs}
    out = [
        Savings(
            key or "",
            cur,
            lc,
            effective.get((key, cur), 0.0),
            *contracted.get((key, cur), (None, None)),
        )
        for key, cur, lc in lists
    ]
    return sorted(out, key=lambda s: -s.list_cost)


def _contracted(db, where: Where, start: date, end: date, by: str | None) -> dict:
    where_sql, params = where._keys_sql(start)
    group = BY_COLUMNS[by] if by else "''"
    rows = db.execute(
        f"SELECT {group}, k.currency, SUM(x.contracted_cost), SUM(c.effective_cost) {_JOIN} "
        f"WHERE x.contracted_cost IS NOT NULL AND c.day BETWEEN ? AND ? AND {where_sql} "
        "AND k.charge_category = 'Usage' GROUP BY 1, 2",
        (day_number(start), day_number(end), *params),
    ).fetchall()
    return {(key or "", cur): (cc, eoc) for key, cur, cc, eoc in rows}


@dataclass(frozen=True)
class Purchase:
    id: str  # the commitment's id ('' when the row names none)
    name: str
    currency: str
    billed: float
    first_day: str
    period_end: str | None  # the latest ChargePeriodEnd of its purchase rows


def purchases(db: Database, where: Where, start: date, end: date) -> list[Purchase]:
    """Commitment purchases (ChargeCategory Purchase, BilledCost) by commitment: the named
    ones from the side table, the rest (no CommitmentDiscountId) from the rollups."""
    where_sql, params = where._keys_sql(start)
    rows = db.execute(
        "SELECT x.commitment_discount_id, MAX(COALESCE(x.commitment_discount_name, '')), "
        f"k.currency, SUM(c.billed_cost), MIN(c.day), MAX(x.charge_period_end) {_JOIN} "
        f"WHERE x.commitment_discount_id IS NOT NULL AND c.day BETWEEN ? AND ? AND {where_sql} "
        "AND k.charge_category = 'Purchase' GROUP BY 1, 3",
        (day_number(start), day_number(end), *params),
    ).fetchall()
    out = [
        Purchase(cid, name, cur, billed or 0.0, day_iso(first), pend)
        for cid, name, cur, billed, first, pend in rows
    ]
    named: dict[str, float] = {}
    for p in out:
        named[p.currency] = named.get(p.currency, 0.0) + p.billed
    for cur, total in reads.totals(db, where, start, end, "BilledCost", ("Purchase",)).items():
        rest = total - named.get(cur, 0.0)
        if abs(rest) >= 0.005:
            out.append(Purchase("", "", cur, rest, start.isoformat(), None))
    return sorted(out, key=lambda p: -p.billed)


def purchase_ends(
    db: Database, first: date, last: date, category: str | None = None
) -> list[tuple[str, str, str]]:
    """(commitment id, name, its purchase rows' latest ChargePeriodEnd) ending in [first,
    last]: what expires, when there is no commitments dataset."""
    rows = db.execute(
        "SELECT x.commitment_discount_id, MAX(COALESCE(x.commitment_discount_name, '')), "
        f"MAX(x.charge_period_end) {_JOIN} WHERE k.charge_category = 'Purchase' "
        "AND x.commitment_discount_id IS NOT NULL AND (? IS NULL OR "
        "x.commitment_discount_category = ?) GROUP BY 1",
        (category, category),
    ).fetchall()
    lo, hi = first.isoformat(), last.isoformat() + "T23:59:59Z"
    return sorted(((c, n, e) for c, n, e in rows if e and lo <= e <= hi), key=lambda r: r[2])


def sources_in(db: Database, start: date, end: date) -> list[str]:
    """The sources with charges in [start, end] (their loads' days meet the span)."""
    rows = db.execute(
        "SELECT DISTINCT source FROM loads WHERE first_day <= ? AND last_day >= ?",
        (end.isoformat(), start.isoformat()),
    ).fetchall()
    return sorted(r[0] for r in rows)
