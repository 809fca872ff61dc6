"""Budget answers: "are we on budget", "budget for nlp", "which budgets are at risk", "how
much budget is left for bert-training", "when will nlp hit its budget". The statuses come
from forecast.budgets, only for the budgets the audience's access scope admits."""

from __future__ import annotations

from datetime import date

from finops_bot.forecast import budgets
from finops_bot.forecast.budgets import BudgetStatus
from finops_bot.providers import fold
from finops_bot.questions.answer import Answer
from finops_bot.questions.parse import Query
from finops_bot.store import reads


def matching(statuses: list[BudgetStatus], q: Query) -> list[BudgetStatus]:
    """The budgets a question names: by the budget's name or its scope's value."""
    if not q.name:
        return statuses
    wanted = fold(q.name)
    return [
        s
        for s in statuses
        if fold(s.budget.name) == wanted
        or (s.budget.value and fold(s.budget.value) == wanted and q.dim in (None, s.budget.dim))
    ]


def visible_budgets(db, rules, view) -> list:
    """The budgets the view's access scope admits (forecast.budgets.visible)."""
    teams = reads.project_teams(db) if view.limited else {}
    return budgets.visible(rules, view.scope if view.limited else None, teams)


def budgets_answer(db, rules, fiscal_start: int, ctx, q: Query, today: date, view, live) -> Answer:
    """A budget question: the visible budgets' statuses as of ``today``."""
    shown = visible_budgets(db, rules, view)
    statuses = [budgets.status(db, b, today, ctx.measure, fiscal_start, live) for b in shown]
    answer = budget_answer(ctx.base, q, statuses, [b.name for b in shown])
    if q.period_given and q.period and not q.period.start <= today <= q.period.end:
        answer.notes.append(
            f"Budgets are shown for their current period; “{q.period.label}” was not "
            f"used (ask “cost for {q.name or 'everything'} {q.period.phrase}” for it)."
        )
    answer.scope = ctx.scope
    return answer


def budget_answer(base: dict, q: Query, statuses: list[BudgetStatus], names: list[str]) -> Answer:
    """``statuses``: the visible budgets' statuses; ``names``: every visible budget's name
    (for "no budget named …")."""
    shown = matching(statuses, q)
    if q.by == "risk":
        shown = [s for s in shown if s.at_risk]
    at_risk = sum(s.at_risk for s in shown)
    title = "Budgets" if not q.name else f"Budget: {q.name}"
    answer = Answer(**base, kind="budget", title=title, budgets=shown)
    answer.measure = statuses[0].measure if statuses else base.get("measure")
    if not names:
        answer.nothing = (
            "No budgets are configured (or none this audience may see): add [[budgets]] to "
            'the config, e.g. name = "nlp", team = "nlp", amount = 40000.'
        )
    elif q.name and not matching(statuses, q):
        answer.nothing = f"No budget for {q.name!r}. Budgets here: {', '.join(names)}."
    elif q.by == "risk" and not shown:
        answer.nothing = (
            "No budget is at risk: none is over, and no forecast is over its threshold."
        )
    else:
        answer.title = (
            f"{title}: {at_risk} of {len(shown)} at risk"
            if len(shown) > 1
            else (f"Budget {shown[0].budget.name}" + (" — at risk" if at_risk else ""))
        )
    answer.suggestions = ["which budgets are at risk", "forecast this month"]
    return answer
