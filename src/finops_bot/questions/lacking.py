"""The answer when no billing data of a period carries the FOCUS columns a question
needs: ``kind: "unsupported"`` naming the columns and the sources lacking them, never a
zero. When some sources carry them, the others are named in a note and the answer goes on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from finops_bot.questions.answer import Answer
from finops_bot.questions.cost_answers import Ctx

# columns every import carries (charge_keys and the facts): never lacking
ALWAYS = {"ListCost", "ConsumedQuantity", "PricingQuantity"}
# FOCUS columns the cache does not keep yet, whatever the file had
NOT_KEPT = {"ChargeFrequency", "SkuPriceId", "ChargeDescription"}


def lacking(
    ctx: Ctx, needed: Sequence[str], start: date, end: date, reach: timedelta = timedelta(0)
) -> Answer | None:
    """The unsupported answer when no source of [start − reach, end] has ``needed``."""
    from finops_bot.store.commitment_reads import sources_in
    from finops_bot.store.extras import columns_by_source

    needed = [c for c in needed if c not in ALWAYS]
    if not needed:
        return None
    if set(needed) & NOT_KEPT:
        return _unsupported(
            ctx,
            needed,
            [],
            f"finops-bot does not keep {', '.join(sorted(set(needed) & NOT_KEPT))}"
            " from the exports yet, so it cannot answer this exactly",
        )
    have = columns_by_source(ctx.db)
    sources = sources_in(ctx.db, start - reach, end)
    without = [s for s in sources if not set(needed) <= have.get(s, set())]
    if sources and len(without) < len(sources):
        if without:
            ctx.notes.append(
                f"Not in these figures: {', '.join(without)} (no {', '.join(needed)} in its "
                "data: a Cost Explorer source, or an export without these columns)."
            )
        return None
    carry = (
        f"{', '.join(without)} do{'es' if len(without) == 1 else ''} not carry"
        if without
        else "no billing data of the period carries"
    )
    return _unsupported(
        ctx,
        needed,
        without,
        f"{carry}. Import a FOCUS export (or a CUR / Azure export) that has them",
    )


def _unsupported(ctx: Ctx, needed: list[str], without: list[str], why: str) -> Answer:
    asked = ctx.base["question"].strip()[:200]
    joined = ", ".join(needed)
    which = "which " if not why.startswith("finops-bot") else "and "
    return Answer(
        **{**ctx.base, "measure": None},
        kind="unsupported",
        title="The billing data cannot answer this",
        message=f"“{asked}” needs {joined}, {which}{why}.",
        missing_columns=list(needed),
        sources_lacking=without,
        unit=None,
    )
