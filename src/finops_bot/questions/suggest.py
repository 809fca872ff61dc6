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
    "why did costs go up last week",
    "anomalies this month",
]
SHAPES = [
    (r"\bwhy\b|\bdr[io]ve|\bcaus|\bexplain", "why did {project} go up last week"),
    (r"anomal|\bspikes?\b|\bunusual\b|\bweird\b", "anomalies this month"),
    (r"\bby\b|\bper\b|break ?down|\bsplit\b", "{project} by service last 30 days"),
    (
        r"compar|\bvs\b|versus|\bthan\b|\bgr[eo]w|increase|\bchange|\bup\b|\bdown\b",
        "compare {project} this week vs last week",
    ),
    (r"\btop\b|\bmost\b|\bbiggest\b|\blargest\b|\bhighest\b", "top 5 projects this month"),
    (r"\bspot\b|on.?demand|\bpricing\b|\breserv", "spot vs on-demand for {project} this month"),
    (r"\bgpus?\b|\bidle\b", "which GPUs are idle"),
    (r"\btag", "untagged spend this month"),
    (r"\binvoic|\bcredits?\b|\btax|\bcorrection", "invoices last month"),
    (r"\busage\b|\bquantit|\bper (?:vcpu|gb|hour)", "usage for {project} last month"),
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
    if name == "*":  # every value of the dimension: "gpu spend"
        subject = f"{dim} spend"
    out = [] if dim == "service" else [f"{subject} by service {period}"]
    out.append(f"spot vs on-demand for {subject} {period}")
    if not compare:
        out.append(f"compare {subject} {period}")
    return out


def help_text() -> str:
    return (
        "Ask about cost by project, team, owner, service, account, provider, region, "
        "service category, GPU model or instance type, for today, yesterday, this/last "
        'week, this/last month or quarter, a month ("October", "2026-10"), a quarter ("q3", '
        '"q3 2026"), "ytd", "h1", "last 7 days", "since Monday", "from nov 1 to nov 7". '
        'Also: top N, "which team spends the most", "what grew the most", "daily spend for '
        'X", "X trend", "X by any other dimension", compare … vs …, "aws vs gcp", "list '
        'projects", untagged spend, spot vs on-demand, GPU spend ("gpu spend last week", '
        '"cost of h100s", "a100 hours this month"), "which GPUs are idle", "idle GPU cost '
        'for X this week", "why did X go up last week" (what changed, by service, account, '
        'region, resource and pricing), "anomalies this week" (as detection stored them), '
        '"my spend" in Slack, the FOCUS use-case library ("credits last month", "invoices '
        'for october", "what changed in october\'s bill after it closed", "marketplace '
        'spend", "cost by availability zone", "top resources for X", "cost by sku", '
        '"average cost per vcpu-hour", "usage for ec2", "tag coverage for aws", "effective '
        'cost by pricing currency"), and "billed cost of …" for the invoiced '
        "measure (the default is EffectiveCost: amortised, credits included)."
    )


def examples(names: NameIndex, placeholders: bool = True) -> list[str]:
    """The help examples, with names this cache really has (a project, a team, a person);
    without ``placeholders``, an example whose kind of name the index lacks is left out."""
    project = _first(names, "project", "bert-training" if placeholders else "")
    team = _first(names, "team", "nlp" if placeholders else "")
    owner = _first(names, "owner", "alice@acme.ai" if placeholders else "").split("@", 1)[0]
    out = [
        f"what did project {project} cost this week",
        "top 5 projects last month",
        "which team spends the most this month",
        f"daily spend for {project} last 7 days",
        f"{project} by service last 30 days",
        f"compare {project} this week vs last week",
        "what grew the most this week",
        f"why did {project} go up last week",
        "anomalies this month",
        f"how much did {owner} spend last month",
        f"team {team} this quarter",
        "untagged spend this month",
        "aws vs gcp last month",
        "which GPUs are idle",
    ]
    if names.known("gpu"):
        out.insert(3, "gpu spend by gpu model last month")
    return [q for q in out if "  " not in q and q == q.strip()]  # no empty name in any


def _first(names: NameIndex, dim: str, default: str) -> str:
    values = sorted(v for v in names.values(dim) if v)
    return values[0] if values else default
