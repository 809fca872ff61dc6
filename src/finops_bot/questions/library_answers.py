"""The answers of the FOCUS use-case library (questions.library): each entry's columns
grouped and summed through store.detail_reads, one currency per total, the groups as rows
(largest first), what was summed in ``summed``. Where no source of the period carries a
column the entry needs, ``kind: "unsupported"`` names it (questions.lacking)."""

from __future__ import annotations

import heapq
import re
from datetime import date

from finops_bot.providers import SPELLINGS, cloud_of, fold
from finops_bot.questions.answer import Answer, Rate, Row
from finops_bot.questions.cost_answers import Ctx, Subject
from finops_bot.questions.lacking import lacking
from finops_bot.questions.library import BY_KIND, UseCase
from finops_bot.questions.parse import Query
from finops_bot.questions.periods import Period, previous_period
from finops_bot.store import detail_reads as dr
from finops_bot.store.reads import tag_grouped

ROWS = 10
NONE = "(none)"
PC_MEASURES = ("PricingCurrencyEffectiveCost", "PricingCurrencyListCost")


def library_answer(ctx: Ctx, q: Query, subject: Subject, period: Period, today: date) -> Answer:
    """One use case of the library about ``subject`` over ``period``."""
    use = BY_KIND[q.kind]
    missing = lacking(ctx, use.needs, period.start, period.end)
    if missing is not None:
        return missing
    if use.detail in ("resource", "sku") and not q.detail:
        return Answer(**ctx.base, kind="error", message=f"Say which {use.detail}: “{use.example}”.")
    build = {
        "grouped": _grouped,
        "facts": _grouped,
        "usage": _usage,
        "rate": _rate,
        "history": _history,
        "compare": _compare,
        "coverage": _coverage,
        "discount": _discount,
        "vc_savings": _vc_savings,
    }[use.build]
    answer = build(ctx, use, q, subject, period, today)
    answer.kind, answer.period, answer.filters = use.kind, period, subject.filters
    if not answer.title:
        what = (
            f"{use.title}: {q.detail}"
            if use.detail in ("resource", "sku", "unit") and q.detail
            else use.title
        )
        answer.title = f"{what} · {subject.title}"
    what = "; ".join(f"{c} = {', '.join(v) or '(empty)'}" for c, v in answer.summed.items())
    inside = f", within the access scope ({ctx.scope})" if ctx.scope else ""
    answer.notes = [
        f"Summed: {what or 'every charge'}{inside}." if n.startswith("Summed:") else n
        for n in answer.notes
    ]
    return answer


def _ask(use: UseCase, q: Query, extra: tuple[str, ...] = (), measures=None) -> dr.Ask:
    equal = dict(use.equal)
    if use.detail == "resource":
        equal["ResourceId"] = (q.detail,)
    elif use.detail == "sku":
        equal["SkuId"] = (q.detail,)
    return dr.Ask((*use.by, *extra), measures or (use.measure,), equal, use.billing)


def _read(ctx: Ctx, use: UseCase, where, period: Period, ask: dr.Ask) -> list[tuple]:
    read = dr.fact_grouped if use.build == "facts" else dr.grouped
    return read(ctx.db, where, period.start, period.end, ask)


def _summed(use: UseCase, q: Query, answer: Answer) -> None:
    for column, values in use.equal.items():
        answer.summed[column] = list(values)
    if use.detail in ("resource", "sku") and q.detail:
        answer.summed["ResourceId" if use.detail == "resource" else "SkuId"] = [q.detail]
    if use.keep == "virtual":
        answer.summed["PricingCurrency"] = ["≠ BillingCurrency"]
    if use.keep == "marketplace":
        answer.summed["PublisherName"] = ["≠ ProviderName"]
    if use.billing:
        answer.summed["BillingPeriodStart"] = ["in the period"]


def _grouped(ctx: Ctx, use: UseCase, q: Query, subject: Subject, period: Period, _) -> Answer:
    pc = use.measure in PC_MEASURES or use.measure == "PricingCurrencyEffectiveCost"
    extra = ("ProviderName",) if use.keep == "marketplace" else ()
    extra += ("BillingCurrency",)
    rows = _read(ctx, use, subject.where, period, _ask(use, q, extra))
    groups: dict[tuple[str, str], float] = {}
    width = len(use.by)
    at = use.by.index("PricingCurrency") if pc else None
    for row in rows:
        values, billing, total = row[:width], row[-2], row[-1]
        if total is None:
            continue
        if use.keep:
            provider = row[width] if use.keep == "marketplace" else ""
            if not _kept(use, dict(zip(use.by, values, strict=True)), provider, billing):
                continue
        currency = values[at] if at is not None else billing
        label = " · ".join(v if v else NONE for v in map(_text, values))
        key = (label, currency or "")
        groups[key] = groups.get(key, 0.0) + total
    answer = ctx.answer(subject.where, kind=use.kind)
    answer.measure = use.measure
    _summed(use, q, answer)
    _ranked(answer, groups)
    answer.nothing = f"No {use.title.lower()} in {period.label}."
    if pc:
        answer.notes.append("Amounts in each PricingCurrency (PricingCurrencyEffectiveCost).")
    return answer


def _kept(use: UseCase, values: dict, provider: str, billing: str) -> bool:
    if use.keep == "virtual":
        return bool(values.get("PricingCurrency")) and values["PricingCurrency"] != billing
    if use.keep == "marketplace":
        return bool(values.get("PublisherName")) and not first_party(
            values["PublisherName"], provider
        )
    if use.keep and use.keep.startswith("set:"):
        return bool(values.get(use.keep[4:]))
    return True


def first_party(publisher: str, provider: str) -> bool:
    """Whether ``publisher`` is the provider itself ("Amazon Web Services EMEA SARL" of
    AWS, "Microsoft Corporation" of Microsoft), not a marketplace vendor."""
    folded = fold(re.sub(r"[^\w\s-]", " ", publisher))
    cloud = cloud_of(provider)
    names = {fold(provider), cloud, *SPELLINGS.get(cloud, ())}
    return any(folded == n or folded.startswith(f"{n}-") for n in names if n)


def _text(value) -> str:
    return "" if value is None else str(value)


def _ranked(answer: Answer, groups: dict[tuple[str, str], float]) -> None:
    for (_, currency), total in groups.items():
        answer.totals[currency] = answer.totals.get(currency, 0.0) + total
    ranked = heapq.nsmallest(ROWS, groups.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    answer.rows = [Row(key, cost, currency) for (key, currency), cost in ranked]
    answer.more_rows = max(len(groups) - ROWS, 0)
    if answer.more_rows:
        shown: dict[str, float] = {}
        for row in answer.rows:
            shown[row.currency] = shown.get(row.currency, 0.0) + row.cost
        answer.rows_totals = shown


def _unit_rows(ctx, use, q, subject, period, ask) -> list[tuple[str, str, str, float, float]]:
    """(service, unit, currency, EffectiveCost, ConsumedQuantity) with a quantity, of the
    asked unit only when one was asked (folded: 'vcpu-hours' is 'vCPU-Hours')."""
    out = []
    for service, unit, currency, cost, quantity in _read(ctx, use, subject.where, period, ask):
        if quantity is None or not unit:
            continue
        if q.detail and fold(unit).rstrip("s") != fold(q.detail).rstrip("s"):
            continue
        out.append((service or NONE, unit, currency, cost or 0.0, quantity))
    return out


def _usage(ctx, use, q, subject, period, _) -> Answer:
    ask = _ask(use, q, ("BillingCurrency",), ("EffectiveCost", "ConsumedQuantity"))
    found = _unit_rows(ctx, use, q, subject, period, ask)
    answer = ctx.answer(subject.where, kind=use.kind, unit="quantity")
    answer.measure = "ConsumedQuantity"
    found.sort(key=lambda r: (-r[4], r[0]))
    answer.rows = [Row(f"{s} · {u}", c, cur, quantity=qty, unit=u) for s, u, cur, c, qty in found]
    answer.more_rows = max(len(answer.rows) - ROWS, 0)
    answer.rows = answer.rows[:ROWS]
    units = {r[1] for r in found}
    if len(units) == 1:
        answer.quantity = sum(r[4] for r in found)
        answer.basis = f"ConsumedQuantity in {next(iter(units))}"
    answer.nothing = f"No usage{f' in {q.detail}' if q.detail else ''} in {period.label}."
    answer.notes.append(
        "Quantities of different units are never added; each row names its "
        "ConsumedUnit, its EffectiveCost beside it."
    )
    return answer


def _rate(ctx, use, q, subject, period, _) -> Answer:
    ask = _ask(use, q, ("BillingCurrency",), ("EffectiveCost", "ConsumedQuantity"))
    found = [r for r in _unit_rows(ctx, use, q, subject, period, ask) if r[4]]
    answer = ctx.answer(subject.where, kind=use.kind, unit="money_per_unit")
    found.sort(key=lambda r: (-r[3], r[0]))
    answer.rows = [
        Row(f"{s} · {u}", c / qty, cur, quantity=qty, unit=u) for s, u, cur, c, qty in found
    ][:ROWS]
    pairs = {(r[1], r[2]) for r in found}
    if len(pairs) == 1:
        (unit, currency), cost = next(iter(pairs)), sum(r[3] for r in found)
        quantity = sum(r[4] for r in found)
        answer.notes.append(
            f"Overall: {cost / quantity:,.6f} {currency} per {unit} "
            f"({cost:,.2f} {currency} over {quantity:,.2f} {unit})."
        )
    answer.basis = "EffectiveCost ÷ ConsumedQuantity, per ConsumedUnit"
    answer.nothing = f"No usage{f' in {q.detail}' if q.detail else ''} in {period.label}."
    return answer


def _history(ctx, use, q, subject, period, _) -> Answer:
    ask = dr.Ask(("ConsumedUnit", "BillingCurrency"), ("EffectiveCost", "ConsumedQuantity"))
    found = dr.months(ctx.db, subject.where, period.start, period.end, ask)
    answer = ctx.answer(subject.where, kind=use.kind, unit="quantity")
    answer.measure = "ConsumedQuantity"
    for month, unit, currency, cost, quantity in sorted(found):
        if unit and quantity:
            key = f"{month[:7]} · {unit} · {(cost or 0) / quantity:,.4f} {currency}/unit"
            answer.rows.append(Row(key, cost or 0.0, currency, quantity=quantity, unit=unit))
    answer.notes.append(
        "Per calendar month and ConsumedUnit: ConsumedQuantity, its "
        "EffectiveCost, and their ratio (the average rate)."
    )
    answer.nothing = f"No usage in {period.label}."
    return answer


def _compare(ctx, use, q, subject, period, today) -> Answer:
    before = q.previous or previous_period(period, today)
    ask = _ask(use, q, ("BillingCurrency",), ("EffectiveCost", "ConsumedQuantity"))
    now = {(u, cur): qty for u, cur, _, qty in _read(ctx, use, subject.where, period, ask) if u}
    then = {(u, cur): qty for u, cur, _, qty in _read(ctx, use, subject.where, before, ask) if u}
    answer = ctx.answer(subject.where, kind=use.kind, unit="quantity")
    answer.measure = "ConsumedQuantity"
    for unit, currency in sorted(set(now) | set(then)):
        row = Row(unit, 0.0, currency, quantity=now.get((unit, currency)) or 0.0, unit=unit)
        row.previous_quantity = then.get((unit, currency)) or 0.0
        answer.rows.append(row)
    answer.notes.append(f"Against {before.describe()}: ConsumedQuantity per ConsumedUnit.")
    answer.nothing = f"No usage in {period.label} or {before.label}."
    return answer


def _coverage(ctx, use, q, subject, period, _) -> Answer:
    key = (q.detail or "project").removeprefix("tag:")
    answer = ctx.answer(subject.where, kind=use.kind, unit="ratio")
    answer.title = f"Tag coverage ({key}) · {subject.title}"
    if key in ("project", "team", "owner"):
        found = dr.tag_keyed(ctx.db, subject.where, period.start, period.end, key, ("ServiceName",))
        per: dict[str, list[float]] = {}
        for service, currency, tagged, total in found:
            cell = per.setdefault(currency, [0.0, 0.0])
            cell[0], cell[1] = cell[0] + tagged, cell[1] + total
            if total:
                answer.rates.append(
                    Rate(
                        f"{service} ({currency})",
                        tagged / total,
                        tagged,
                        total,
                        currency,
                        f"EffectiveCost with a {key} tag",
                    )
                )
        answer.rates.sort(key=lambda r: -r.denominator)
        answer.rates = answer.rates[:ROWS]
    else:
        per = {}
        for value, currency, total in tag_grouped(
            ctx.db, key, period.start, period.end, "EffectiveCost", where=subject.where
        ):
            cell = per.setdefault(currency, [0.0, 0.0])
            cell[1] += total
            cell[0] += total if value else 0.0
    overall = [
        Rate(
            f"all ({c})",
            t / a if a else None,
            t,
            a,
            c,
            f"EffectiveCost with a {key} tag ÷ all EffectiveCost",
        )
        for c, (t, a) in per.items()
    ]
    answer.rates = [*overall, *answer.rates]
    answer.ratio = overall[0].ratio if len(overall) == 1 else None
    answer.summed["Tags"] = [f"{key} present and not empty"]
    answer.nothing = f"No spend in {period.label}."
    return answer


def _discount(ctx, use, q, subject, period, _) -> Answer:
    ask = dr.Ask(
        ("ServiceName", "BillingCurrency"),
        ("ListCost", "ContractedCost", "EffectiveCost"),
        {"ChargeCategory": ("Usage",)},
        billing=True,
    )
    answer = ctx.answer(subject.where, kind=use.kind, unit="ratio")
    found = dr.grouped(ctx.db, subject.where, period.start, period.end, ask)
    for service, currency, listed, contracted, effective in sorted(
        found, key=lambda r: -(r[2] or 0)
    ):
        if listed:
            answer.rates.append(
                Rate(
                    f"{service} ({currency})",
                    (listed - effective) / listed,
                    listed - effective,
                    listed,
                    currency,
                    "over list price",
                )
            )
        if contracted:
            answer.rates.append(
                Rate(
                    f"{service} ({currency}), contracted",
                    (contracted - effective) / contracted,
                    contracted - effective,
                    contracted,
                    currency,
                    "over contracted price",
                )
            )
    answer.rates = answer.rates[: 2 * ROWS]
    answer.summed.update(ChargeCategory=["Usage"], BillingPeriodStart=["in the period"])
    answer.notes.append(
        "Discount = (ListCost − EffectiveCost) ÷ ListCost per service, and over "
        "ContractedCost where the data carries it."
    )
    answer.nothing = f"No usage with a ListCost in {period.label}."
    return answer


def _vc_savings(ctx, use, q, subject, period, _) -> Answer:
    ask = dr.Ask(
        ("PricingCurrency", "BillingCurrency"),
        ("PricingCurrencyListCost", "PricingCurrencyContractedCost"),
    )
    groups = {}
    for pc, billing, listed, contracted in dr.grouped(
        ctx.db, subject.where, period.start, period.end, ask
    ):
        if pc and pc != billing and listed is not None and contracted is not None:
            groups[(pc, pc)] = groups.get((pc, pc), 0.0) + listed - contracted
    answer = ctx.answer(subject.where, kind=use.kind)
    answer.measure = "PricingCurrencyListUnitPrice − PricingCurrencyContractedUnitPrice"
    _summed(use, q, answer)
    _ranked(answer, groups)
    answer.notes.append(
        "Savings = Σ (PricingCurrencyListUnitPrice − "
        "PricingCurrencyContractedUnitPrice) × PricingQuantity, per currency."
    )
    answer.nothing = f"No virtual-currency charges with unit prices in {period.label}."
    return answer
