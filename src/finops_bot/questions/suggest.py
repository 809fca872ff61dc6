"""What to suggest: follow-up questions, and for a question not understood, the closest
supported questions by shape, filled with names the cache really has."""

from __future__ import annotations

import re

from finops_bot.questions.names import NameIndex

EXAMPLES = [
    "what did project bert-training cost this week",
    "top 5 projects last month",
    "bert-training by service last 30 days",
    "compare bert-training this week vs last week",
    "untagged spend this month",
    "spot vs on-demand for llm-finetune this month",
    "total spend since monday",
    "billed cost of team nlp in 2026-10",
    "cost of service ec2 between 2026-11-01 and 2026-11-15",
    "provider aws by region last month",
    "which GPUs are idle",
]
SHAPES = [
    (r"\bby\b|\bper\b|break ?down|\bsplit\b", "{project} by service last 30 days"),
    (
        r"compar|\bvs\b|versus|\bthan\b|\bgr[eo]w|increase|\bchange|\bup\b|\bdown\b",
        "compare {project} this week vs last week",
    ),
    (r"\btop\b|\bmost\b|\bbiggest\b|\blargest\b|\bhighest\b", "top 5 projects this month"),
    (r"\bspot\b|on.?demand|\bpricing\b|\breserv", "spot vs on-demand for {project} this month"),
    (r"\bgpus?\b|\bidle\b", "which GPUs are idle"),
    (r"\btag", "untagged spend this month"),
    (r"\bservice|\bec2\b|\bs3\b|storage|compute", "{project} by service this month"),
]
DEFAULTS = [
    "what did project {project} cost this week",
    "total spend this month",
    "top 5 projects this month",
]


def by_shape(text: str, names: NameIndex, limit: int = 4) -> list[str]:
    """The supported questions closest in shape to ``text``, with a real project name."""
    projects = sorted(names.values("project"))
    project = projects[0] if projects else "bert-training"
    lowered = text.lower()
    chosen = [template for pattern, template in SHAPES if re.search(pattern, lowered)]
    out: list[str] = []
    for template in [*chosen, *DEFAULTS]:
        question = template.format(project=project)
        if question not in out:
            out.append(question)
    return out[:limit]


def follow_ups(dim: str, name: str, period: str, compare: bool = False) -> list[str]:
    """Questions to ask next about a subject, in forms the parser reads back."""
    if dim == "*":
        return [f"top 5 projects {period}", f"untagged spend {period}"]
    subject = f"{dim} {name}" if dim != "project" else name
    out = [] if dim == "service" else [f"{subject} by service {period}"]
    out.append(f"spot vs on-demand for {subject} {period}")
    if not compare:
        out.append(f"compare {subject} {period}")
    return out


def help_text() -> str:
    return (
        "Ask about cost by project, team, owner, service, account, provider, region or "
        "service category, for today, yesterday, this/last week, this/last month, a month "
        '("October", "2026-10"), "last 7 days", "since Monday", "since 2026-11-01" or '
        '"between 2026-11-01 and 2026-11-15". Also: top N, X by any other dimension '
        '("provider aws by region"), compare … vs …, untagged spend, spot vs on-demand, '
        '"which GPUs are idle", "idle GPU cost for X this week", and "billed cost of …" '
        "for the invoiced measure (the default is EffectiveCost: amortised, credits "
        "included)."
    )
