"""Commitment answers: utilisation, coverage, the effective savings rate, unused
commitments, purchases and expiries (store.commitment_reads), with their units. Where no
source of the period carries the columns a question needs, the answer is
``kind: "unsupported"`` naming the columns and the sources that lack them — never a zero."""

from __future__ import annotations

from datetime import date, timedelta

from finops_bot.questions.answer import Answer, Rate, Row
from finops_bot.questions.cost_answers import Ctx, Subject
from finops_bot.questions.lacking import lacking
from finops_bot.questions.parse import Query
from finops_bot.questions.periods import Period
from finops_bot.store import commitment_reads as cr

NEEDS = {
    "commitment_utilization": ("CommitmentDiscountId", "CommitmentDiscountStatus"),
    "commitment_coverage": ("CommitmentDiscountCategory", "CommitmentDiscountStatus"),
    "unused_commitments": ("CommitmentDiscountId", "CommitmentDiscountStatus"),
    "commitment_expiry": ("CommitmentDiscountId", "ChargePeriodEnd"),
}
KINDS = (*NEEDS, "savings_rate", "commitment_purchases")
# answered for unscoped audiences only: a commitment's unused part and its term belong to no
# project, so a scoped view would show a commitment half-used as fully used
ORG_WIDE = ("commitment_utilization", "unused_commitments", "commitment_expiry")
ROWS = 10


def commitment_answer(ctx: Ctx, q: Query, subject: Subject, period: Period, today: date):
    """One commitment question about ``subject`` over ``period``."""
    lacking = _lacking(ctx, q, period, today)
    if lacking is not None:
        return lacking
    build = {
        "commitment_utilization": _utilization,
        "commitment_coverage": _coverage,
        "savings_rate": _savings,
        "unused_commitments": _unused,
        "commitment_purchases": _purchases,
        "commitment_expiry": _expiry,
    }[q.kind]
    answer = build(ctx, q, subject, period, today)
    answer.filters = subject.filters
    answer.scope = ctx.scope
    notes = ctx.notes
    if q.kind == "commitment_expiry":  # its period is the days ahead, not one asked
        notes = [n for n in notes if not n.startswith(("No period given", "Partial"))]
    answer.notes = [*notes, *answer.notes]
    return answer


def _lacking(ctx: Ctx, q: Query, period: Period, today: date) -> Answer | None:
    """The unsupported answer when no source of the period has the columns needed."""
    from finops_bot.store.commitments import commitments

    needed = NEEDS.get(q.kind)
    if not needed or (q.kind == "commitment_expiry" and commitments(ctx.db)):
        return None
    if q.kind == "commitment_expiry":  # the terms that run now began up to 400 days ago
        return lacking(ctx, needed, today, today, timedelta(days=400))
    return lacking(ctx, needed, period.start, period.end)


def _ratio_answer(ctx: Ctx, kind: str, title: str, period: Period, measure=None) -> Answer:
    """``measure``: the cost measure the rate is of (None: hours, or units and dollars)."""
    return Answer(
        **{**ctx.base, "measure": measure},
        kind=kind,
        title=title,
        period=period,
        unit="ratio",
    )


def _utilization(ctx, q, subject, period, today) -> Answer:
    what = {"Spend": "Savings plan", "Usage": "Reservation"}.get(q.by, "Commitment")
    answer = _ratio_answer(ctx, "commitment_utilization", f"{what} utilization", period)
    uses = cr.uses(ctx.db, subject.where, period.start, period.end, q.by)
    for u in uses:
        units = u.category == "Usage" and u.used_quantity is not None and u.unit
        used, total = (
            (u.used_quantity, (u.used_quantity or 0) + (u.unused_quantity or 0))
            if units
            else (u.used, u.committed)
        )
        unit = u.unit if units else u.currency
        answer.rates.append(
            Rate(
                u.name or u.id,
                used / total if total else None,
                used,
                total,
                unit,
                f"used ÷ committed, in {unit}",
            )
        )
    _overall(answer, "used ÷ committed")
    answer.nothing = f"No {what.lower()} use in {period.label}."
    answer.notes.append(
        "Used and Unused are the rows' CommitmentDiscountStatus; savings plans in dollars "
        "(EffectiveCost), reservations in their committed units where the rows carry "
        "CommitmentDiscountQuantity."
    )
    return answer


def _overall(answer: Answer, basis: str) -> None:
    """The answer's one ratio, when every rate is in the same unit."""
    units = {r.unit for r in answer.rates}
    if len(units) == 1 and answer.rates:
        num = sum(r.numerator for r in answer.rates)
        den = sum(r.denominator for r in answer.rates)
        answer.ratio = num / den if den else None
        answer.basis = f"{basis}, in {units.pop()}"
    elif answer.rates:
        answer.notes.append("Several units or currencies: one rate each, none added.")


def _coverage(ctx, q, subject, period, today) -> Answer:
    answer = _ratio_answer(ctx, "commitment_coverage", f"RI coverage: {subject.title}", period)
    found = cr.coverage(ctx.db, subject.where, period.start, period.end)
    covered = sum(c.covered_hours for c in found)
    eligible = sum(c.eligible_hours for c in found)
    if eligible:
        answer.ratio = covered / eligible
        answer.rates.append(
            Rate(
                "instance-hours",
                answer.ratio,
                covered,
                eligible,
                "hours",
                "covered ÷ eligible instance-hours",
            )
        )
        answer.basis = "covered instance-hours ÷ eligible instance-hours"
    answer.nothing = f"No usage hours for {subject.title} in {period.label}."
    answer.notes.append(
        "Eligible: usage rows (ChargeCategory Usage) counted in hours, Spot excluded; "
        "covered: those a reservation (CommitmentDiscountCategory Usage, Status Used) covered."
    )
    return answer


def _savings(ctx, q, subject, period, today) -> Answer:
    title = f"Effective savings rate: {subject.title}" + (f", by {q.by}" if q.by else "")
    answer = _ratio_answer(ctx, "savings_rate", title, period, "EffectiveCost")
    whole = cr.savings(ctx.db, subject.where, period.start, period.end)
    parts = cr.savings(ctx.db, subject.where, period.start, period.end, q.by) if q.by else []
    for s in whole:
        answer.rates.append(
            Rate(
                f"over list price ({s.currency})",
                s.over_list,
                s.list_cost - s.effective_cost,
                s.list_cost,
                s.currency,
                "(ListCost − EffectiveCost) ÷ ListCost",
            )
        )
        if s.over_contracted is not None:
            answer.rates.append(
                Rate(
                    f"over contracted price ({s.currency})",
                    s.over_contracted,
                    s.contracted_cost - (s.effective_on_contracted or 0),
                    s.contracted_cost,
                    s.currency,
                    "(ContractedCost − EffectiveCost) ÷ ContractedCost",
                )
            )
    for s in parts[:ROWS]:
        answer.rates.append(
            Rate(
                f"{s.key or '(none)'} ({s.currency})",
                s.over_list,
                s.list_cost - s.effective_cost,
                s.list_cost,
                s.currency,
                f"over list price, {q.by} {s.key}",
            )
        )
    if len(whole) == 1:
        answer.ratio = whole[0].over_list
        answer.basis = "(ListCost − EffectiveCost) ÷ ListCost over usage (ChargeCategory Usage)"
    answer.nothing = f"No usage with a list price for {subject.title} in {period.label}."
    return answer


def _money_answer(ctx, kind: str, title: str, period: Period, measure: str) -> Answer:
    return Answer(**{**ctx.base, "measure": measure}, kind=kind, title=title, period=period)


def _unused(ctx, q, subject, period, today) -> Answer:
    answer = _money_answer(ctx, "unused_commitments", "Unused commitments", period, "EffectiveCost")
    uses = cr.uses(ctx.db, subject.where, period.start, period.end, q.by)
    found = [u for u in uses if u.unused]
    for u in found[:ROWS]:
        answer.rows.append(Row(u.name or u.id, u.unused, u.currency))
    answer.more_rows = max(len(found) - ROWS, 0)
    for u in found:
        answer.totals[u.currency] = answer.totals.get(u.currency, 0.0) + u.unused
    answer.nothing = f"No unused commitment in {period.label}."
    answer.notes.append("EffectiveCost of the rows with CommitmentDiscountStatus Unused.")
    return answer


def _purchases(ctx, q, subject, period, today) -> Answer:
    answer = _money_answer(
        ctx, "commitment_purchases", "Commitment purchases", period, "BilledCost"
    )
    found = cr.purchases(ctx.db, subject.where, period.start, period.end)
    for p in found[:ROWS]:
        answer.rows.append(Row(p.name or p.id or "(no commitment named)", p.billed, p.currency))
    answer.more_rows = max(len(found) - ROWS, 0)
    for p in found:
        answer.totals[p.currency] = answer.totals.get(p.currency, 0.0) + p.billed
    answer.nothing = f"No commitment purchase in {period.label}."
    answer.notes.append("BilledCost of ChargeCategory Purchase rows, by CommitmentDiscountId.")
    return answer


def _expiry(ctx, q, subject, period, today) -> Answer:
    from finops_bot.store.commitments import commitments, expiring

    days = q.top_n or 60
    last = today + timedelta(days=days)
    shown = Period(today, last, f"the next {days} days", "days")
    answer = _money_answer(ctx, "commitment_expiry", "Commitments expiring", shown, None)
    if commitments(ctx.db):
        for c in expiring(ctx.db, today, days):
            if q.by and c.category and c.category != q.by:  # "which reservations expire"
                continue
            what = f"{c.description or c.id} ({c.type or c.category or 'commitment'})"
            key = f"{what}, ends {c.period_end} (term cost)"
            row = Row(key, c.cost or 0.0, c.currency or "")
            answer.rows.append(row)
        answer.basis = "the FOCUS Contract Commitment dataset (ContractCommitmentPeriodEnd)"
    else:
        for cid, name, end in cr.purchase_ends(ctx.db, today, last, q.by):
            answer.notes.append(f"{name or cid}: its purchase's charge period ends {end[:10]}")
        answer.basis = "the purchase rows' ChargePeriodEnd (no commitments dataset imported)"
    answer.unit = "money" if answer.rows else None
    found = len(answer.rows) or len(answer.notes)
    answer.nothing = (
        f"{found} commitment{'s' if found != 1 else ''} end in the next {days} days (below)."
        if found
        else f"No commitment ends in the next {days} days."
    )
    return answer
