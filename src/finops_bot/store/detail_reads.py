"""The reads of the FOCUS use-case library: any FOCUS columns of a subject's charges,
grouped, with their measures summed (detail_days, m022), or, for resources and SKUs, from
the facts of the period's blocks. Columns are named as FOCUS names them; a column outside
these tables cannot be asked for (the caller says so)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlite_utils import Database

from finops_bot.days import day_number
from finops_bot.store.reads import Where
from finops_bot.store.tagsets import _in, _ranges

KEY_COLUMNS = {  # FOCUS name → charge_keys column
    "ProviderName": "provider",
    "BillingAccountId": "billing_account_id",
    "BillingAccountName": "billing_account_name",
    "SubAccountId": "sub_account_id",
    "SubAccountName": "sub_account_name",
    "RegionId": "region",
    "ServiceName": "service_name",
    "ServiceCategory": "service_category",
    "ChargeCategory": "charge_category",
    "PricingCategory": "pricing_category",
    "BillingCurrency": "currency",
    "ConsumedUnit": "consumed_unit",
    "PricingUnit": "pricing_unit",
    "BillingPeriodStart": "billing_period_start",
    "ResourceType": "resource_type",
    "x_InstanceType": "instance_type",
    "x_GpuModel": "gpu_model",
}
DETAIL_COLUMNS = {  # FOCUS name → detail_days column
    "ChargeClass": "charge_class",
    "InvoiceId": "invoice_id",
    "InvoiceIssuerName": "invoice_issuer_name",
    "PublisherName": "publisher_name",
    "ServiceSubcategory": "service_subcategory",
    "AvailabilityZone": "availability_zone",
    "PricingCurrency": "pricing_currency",
    "CapacityReservationId": "capacity_reservation_id",
    "CapacityReservationStatus": "capacity_reservation_status",
    "CommitmentDiscountCategory": "commitment_discount_category",
    "CommitmentDiscountStatus": "commitment_discount_status",
}
FACT_COLUMNS = {"ResourceId": "resource_id", "SkuId": "sku_id"}
MEASURES = {  # FOCUS measure → detail_days column (the pricing-currency ones in PricingCurrency)
    "BilledCost": "billed_cost",
    "EffectiveCost": "effective_cost",
    "ListCost": "list_cost",
    "ContractedCost": "contracted_cost",
    "ConsumedQuantity": "consumed_quantity",
    "PricingQuantity": "pricing_quantity",
    "PricingCurrencyEffectiveCost": "pc_effective_cost",
    "PricingCurrencyListCost": "pc_list_cost",  # Σ PricingCurrencyListUnitPrice × quantity
    "PricingCurrencyContractedCost": "pc_contracted_cost",
}
FACT_MEASURES = {
    "BilledCost": "billed_cost",
    "EffectiveCost": "effective_cost",
    "ListCost": "list_cost",
    "ConsumedQuantity": "consumed_quantity",
    "PricingQuantity": "pricing_quantity",
}


@dataclass(frozen=True)
class Ask:
    """What to group and sum: FOCUS columns ``by``, ``measures``, rows whose columns equal
    one of ``equal``'s values; ``billing``: the period selects BillingPeriodStart months,
    not charge days."""

    by: tuple[str, ...]
    measures: tuple[str, ...]
    equal: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    billing: bool = False


def _column(name: str, facts: bool) -> str:
    if name in KEY_COLUMNS:
        return f"k.{KEY_COLUMNS[name]}"
    if facts and name in FACT_COLUMNS:
        return f"COALESCE(c.{FACT_COLUMNS[name]}, '')"
    if not facts and name in DETAIL_COLUMNS:
        return f"t.{DETAIL_COLUMNS[name]}"
    raise ValueError(f"no column {name} here")


def _equal_sql(ask: Ask, facts: bool) -> tuple[str, list]:
    clauses, params = [], []
    for name, values in ask.equal.items():  # ids as asked: a question is lower-cased
        nocase = " COLLATE NOCASE" if name in FACT_COLUMNS else ""
        clauses.append(f"{_column(name, facts)}{nocase} IN ({','.join('?' * len(values))})")
        params.extend(values)
    return "".join(f" AND {c}" for c in clauses), params


ZERO = 1e-6  # below what any answer shows: what a sum taken back out of another leaves
# the measures daily_keys has too (the others are the extras'; NULL elsewhere)
_BOTH = {"billed_cost", "effective_cost", "list_cost", "consumed_quantity", "pricing_quantity"}


def _span(where: Where, start: date, end: date, billing: bool) -> tuple[str, list, str, list]:
    """(day condition on ``t``, its params, the keys' condition, its params)."""
    if billing:  # billing periods starting in the months asked: any charge day
        where_sql, params = where._keys_sql()
        where_sql += " AND k.billing_period_start BETWEEN ? AND ?"
        return "1", [], where_sql, [*params, start.replace(day=1).isoformat(), end.isoformat()]
    where_sql, params = where._keys_sql(start)
    return "t.day BETWEEN ? AND ?", [day_number(start), day_number(end)], where_sql, params


def grouped(db: Database, where: Where, start: date, end: date, ask: Ask) -> list[tuple]:
    """(by values…, measure sums…) of the subject's charges in [start, end] (or, with
    ``ask.billing``, in the billing periods starting in it)."""
    return _read(db, where, start, end, ask, False)


def months(db: Database, where: Where, start: date, end: date, ask: Ask) -> list[tuple]:
    """``grouped`` per calendar month of the charge day: (month's first day, by…, sums…)."""
    return _read(db, where, start, end, ask, True)


def _month_sql(column: str) -> str:
    return f"strftime('%Y-%m-01', t.{column} * 86400, 'unixepoch')"


def _leg(ask: Ask, table: str, sign: str, first: str | None, span: str, keys: str) -> str:
    """One leg of the sum, grouped: detail_days' rows (``sign`` ''), daily_keys' with every
    reporting column '' (''), or detail_days' taken back out of those ('-')."""
    own = table != "daily_keys" and sign == ""
    columns = [first] if first else []
    for name in ask.by:
        if name in DETAIL_COLUMNS:
            columns.append(f"t.{DETAIL_COLUMNS[name]}" if own else "''")
        else:
            columns.append(_column(name, False))
    sums = []
    for m in ask.measures:
        column = MEASURES[m]
        sums.append(f"{sign}SUM(t.{column})" if own or column in _BOTH else "NULL")
    group = ", ".join(str(i + 1) for i in range(len(columns))) if columns else None
    # detail_days and detail_months are indexed by day or month, not by key: their span
    # is read once, outer (CROSS JOIN fixes the order), each key found by its id
    join = "JOIN" if table == "daily_keys" else "CROSS JOIN"
    return (
        f"SELECT {', '.join([*columns, *sums])} FROM {table} t {join} charge_keys k ON "
        f"k.id = t.key_id WHERE {span} AND {keys}" + (f" GROUP BY {group}" if group else "")
    )


def _read(db, where: Where, start: date, end: date, ask: Ask, monthly: bool) -> list[tuple]:
    """Whole months (and billing periods) from detail_months, which holds every charge.
    Other spans from the legs summed: detail_days', plus (unless a detail column must equal
    a value, which only those rows have) daily_keys' less detail_days', so each charge
    counts once and a charge without the columns falls in the '' group. Each leg is
    grouped first: the union holds groups, not rows."""
    equal, equal_params = _equal_sql(ask, False)
    span, span_params, where_sql, params = _span(where, start, end, ask.billing)
    keys = f"{where_sql}{equal}"
    if ask.billing or whole_months(db, start, end):
        if not ask.billing:
            span = "t.month BETWEEN ? AND ?"
            span_params = [day_number(start), day_number(end.replace(day=1))]
        first = _month_sql("month") if monthly else None
        legs = [_leg(ask, "detail_months", "", first, span, keys)]
    else:
        first = _month_sql("day") if monthly else None
        legs = [_leg(ask, "detail_days", "", first, span, keys)]
        if not any(name in DETAIL_COLUMNS for name in ask.equal):
            legs.append(_leg(ask, "daily_keys", "", first, span, keys))
            legs.append(_leg(ask, "detail_days", "-", first, span, keys))
    args = (*span_params, *params, *equal_params)
    width = len(ask.by) + (1 if first else 0)
    outer = [f"c{i}" for i in range(width)]
    named = [*outer, *(f"m{i}" for i in range(len(ask.measures)))]
    sums = ", ".join(f"SUM(m{i})" for i in range(len(ask.measures)))
    union = " UNION ALL ".join(legs)
    rows = db.execute(
        f"WITH u({', '.join(named)}) AS ({union}) SELECT {', '.join(outer) or chr(39) * 2}, "
        f"{sums} FROM u" + (f" GROUP BY {', '.join(outer)}" if outer else ""),
        args * len(legs),
    ).fetchall()
    width = max(width, 1)  # a group the legs emptied (its charges all carry the columns)
    return [r for r in rows if any(v is not None and abs(v) > ZERO for v in r[width:])]


def whole_months(db: Database, start: date, end: date) -> bool:
    """Whether [start, end] is whole calendar months of the data: from a 1st to a month's
    end, or to a day no charge of that month comes after (this month so far)."""
    if start.day != 1:
        return False
    if (end + timedelta(days=1)).day == 1:
        return True
    row = db.execute(
        "SELECT MAX(last_day) FROM resource_months WHERE month = ?",
        (day_number(end.replace(day=1)),),
    ).fetchone()
    return row[0] is None or row[0] <= day_number(end)


def fact_grouped(db: Database, where: Where, start: date, end: date, ask: Ask) -> list[tuple]:
    """The same over the facts, for ResourceId and SkuId (``by`` or ``equal``): from
    resource_months for whole months, else the period's blocks only; the subject's
    dimension combinations only."""
    where_sql, params = where._keys_sql(start)
    key_equal = {n: v for n, v in ask.equal.items() if n in KEY_COLUMNS}
    extra, extra_params = _equal_sql(Ask((), (), key_equal), True)
    keys = [
        row[0]
        for row in db.execute(
            f"SELECT k.id FROM charge_keys k WHERE {where_sql}{extra}", (*params, *extra_params)
        )
    ]
    if not keys:
        return []
    fact_equal = {n: v for n, v in ask.equal.items() if n in FACT_COLUMNS}
    equal, equal_params = _equal_sql(Ask((), (), fact_equal), True)
    select = ", ".join(_column(b, True) for b in ask.by)
    sums = ", ".join(f"SUM(c.{FACT_MEASURES[m]})" for m in ask.measures)
    group = ", ".join(str(i + 1) for i in range(len(ask.by)))
    first, last = day_number(start), day_number(end)
    every = where.everything and not key_equal  # every combination: no key filter
    body = f"JOIN charge_keys k ON k.id = c.key_id WHERE {'1' if every else _in('c.key_id', keys)}"
    body += equal
    if whole_months(db, start, end):
        scans = [
            (
                f"SELECT {select}, {sums} FROM resource_months c {body} AND c.month "
                f"BETWEEN ? AND ? GROUP BY {group}",
                (first, last),
            )
        ]
    else:
        scans = [
            (
                f"SELECT {select}, {sums} FROM charges c {body} AND c.id BETWEEN ? AND ? AND "
                f"c.day BETWEEN ? AND ? GROUP BY {group}",
                (low, high, first, last),
            )
            for low, high in _ranges(db.conn, first, last)
        ]
    if not scans:
        return []
    args = [a for _, scan_args in scans for a in (*equal_params, *scan_args)]
    if len(scans) == 1:
        return db.execute(scans[0][0], args).fetchall()
    width = len(ask.by)  # the blocks' groups summed again, in SQL
    named = [*(f"c{i}" for i in range(width)), *(f"m{i}" for i in range(len(ask.measures)))]
    union = " UNION ALL ".join(sql for sql, _ in scans)
    outer = ", ".join(f"c{i}" for i in range(width))
    sums = ", ".join(f"SUM(m{i})" for i in range(len(ask.measures)))
    return db.execute(
        f"WITH u({', '.join(named)}) AS ({union}) SELECT {outer}, {sums} FROM u GROUP BY {outer}",
        args,
    ).fetchall()


def tag_keyed(
    db: Database, where: Where, start: date, end: date, column: str, by: Sequence[str]
) -> list[tuple]:
    """(by…, currency, EffectiveCost with ``column`` (an allocation column of charge_keys:
    project, team, owner) set, EffectiveCost in all) — tag coverage of that key."""
    group = ", ".join(_column(b, False) for b in by)
    where_sql, params = where._keys_sql(start)
    return db.execute(
        f"SELECT {group + ', ' if group else ''}k.currency, "
        f"SUM(CASE WHEN COALESCE(k.{column}, '') != '' THEN t.effective_cost ELSE 0 END), "
        "SUM(t.effective_cost) FROM daily_keys t JOIN charge_keys k ON k.id = t.key_id "
        f"WHERE t.day BETWEEN ? AND ? AND {where_sql} "
        f"GROUP BY {', '.join(str(i + 1) for i in range(len(by) + 1))}",
        (day_number(start), day_number(end), *params),
    ).fetchall()
