"""The daily digest as text and as Block Kit (one message, inside Slack's limits: a section
that would overflow ends with "and N more" and the command that shows all). Both read the
digest object's fields."""

from __future__ import annotations

from finops_bot.digest.daily import DailyDigest, ProviderDay
from finops_bot.forecast.model import Forecast
from finops_bot.money import format_change, format_money
from finops_bot.render.anomalies import KIND_WORDS
from finops_bot.render.blocks import escape
from finops_bot.render.sections import header_block, section_block, sections_text

MAX_ITEMS = 8  # anomalies shown before "and N more"
MAX_SECTION = 2900


def _compare(d: ProviderDay, weekly: bool) -> str:
    parts = []
    if d.week_before is not None:
        before = "the week before" if weekly else "the same day last week"
        parts.append(f"{format_change(d.total, d.week_before)} vs {before}")
    if d.average_4w:
        average = "the 4 weeks' weekly average" if weekly else "its 4-week average"
        parts.append(f"{format_change(d.total, d.average_4w)} vs {average}")
    return "; ".join(parts)


def headline(digest: DailyDigest) -> str:
    scope = f" · {digest.scope}" if digest.scope else ""
    kind = "Weekly" if digest.span == 7 else "Daily"
    name = "" if digest.name in ("daily", "weekly") else f" {digest.name}"
    return f"{kind} cost digest{name}{scope} · {digest.as_of}"


def sections(digest: DailyDigest) -> list[tuple[str, list[str]]]:
    """(heading, lines) in order: days, movers, anomalies, events, untagged, freshness."""
    if digest.empty:
        return [("", ["No billing data in this digest's scope yet."])]
    weekly = digest.span == 7
    span = "latest complete 7 billing days" if weekly else "latest complete billing day"
    days = [
        f"{d.provider}, {d.day} ({span}): "
        f"{format_money(d.total, d.currency)} ({_compare(d, weekly)})"
        for d in digest.days
    ]
    movers = [
        f"{m.project}: {format_money(m.now, m.currency)} vs {format_money(m.before, m.currency)} "
        f"a week before ({format_change(m.now, m.before)})"
        for m in digest.movers
    ]
    found = [anomaly_line(a) for a in digest.anomalies[:MAX_ITEMS]]
    if len(digest.anomalies) > MAX_ITEMS:
        found.append(f"… and {len(digest.anomalies) - MAX_ITEMS} more: python -m bot anomalies")
    moved = "the week before" if weekly else "same weekday a week before"
    out = [("Spend", days), (f"Top movers (by project, {moved})", movers)]
    out.append(("New anomalies", found or ["None in the last days of data."]))
    if digest.events:
        out.append(("Purchases (events, not anomalies)", [
            f"{e.key}: {format_money(e.actual, e.currency)} on {e.start} (BilledCost)"
            for e in digest.events
        ]))  # fmt: skip
    if digest.untagged:
        out.append(("Untagged", [
            f"{share * 100:.1f}% of the last 7 days' {c} spend has no project tag"
            for c, share in digest.untagged.items()
        ]))  # fmt: skip
    if digest.budgets:
        out.append(("Budgets", budget_digest_lines(digest)))
    fresh = [f"{p}: data through {t} ({s}, loaded {(at or '?')[:16]})"
             for p, s, t, at in digest.freshness]  # fmt: skip
    out.append(("Freshness", [*(f"⚠ {w}" for w in digest.warnings), *fresh]))
    return [(h, lines) for h, lines in out if lines]


def budget_digest_lines(digest: DailyDigest) -> list[str]:
    """One line per budget, then what crossed since yesterday and what a restatement un-did."""
    lines = []
    for s in digest.budgets:
        cur = s.budget.currency
        if s.problem:
            lines.append(f"{s.budget.name}: not checked — {s.problem}")
            continue
        line = (f"{s.budget.name} ({s.budget.scope}, {s.label}): {format_money(s.spent, cur)} "
                f"of {format_money(s.amount, cur)} ({s.percent:.0f}%)")  # fmt: skip
        if isinstance(s.forecast, Forecast):
            line += f", forecast {format_money(s.forecast.total, cur)}"
        if s.at_risk:
            line += " — at risk" + (f", driven by {s.driven_by}" if s.driven_by else "")
        lines.append(line)
    for c in digest.crossings:
        what = "forecast over budget" if c.threshold == "forecast" else f"crossed {c.threshold}%"
        lines.append(f"{c.budget} {what} ({c.crossed_at[:16].replace('T', ' ')} UTC)")
    for c in digest.uncrossed:
        spent, amount = (format_money(v, c.currency) for v in (c.uncrossed_spent, c.amount))
        lines.append(
            f"{c.budget}: back below {c.threshold}% after a restatement of the billing data "
            f"({spent} of {amount}); a later re-crossing is not announced again"
        )
    return lines


def anomaly_line(a) -> str:
    what = KIND_WORDS.get(a.kind, a.kind)
    cause = next((c for c in a.root_cause if c["dimension"] == "service"), None)
    why = f"; mostly {cause['value']}" if cause else ""
    gpu = ""
    if a.gpu_activity:
        g = a.gpu_activity
        idle = format_money(g["idle_dollars"], "USD")
        gpu = f"; GPUs {g['busy_share'] * 100:.0f}% busy, {idle} idle"
    return (
        f"{a.dim} {a.key}: {what} since {a.start}, {format_money(a.actual, a.currency)} against "
        f"{format_money(a.expected, a.currency)} expected (+{format_money(a.impact, a.currency)})"
        f"{why}{gpu} [{a.id}]"
    )


def digest_text(digest: DailyDigest) -> str:
    lines = sections_text(headline(digest), sections(digest))
    lines += ["", f"Measure: {digest.measure}. Currencies are never added together."]
    return "\n".join(lines)


FEEDBACK = (  # (action id, button text, the status it records)
    ("finops_anomaly_ack", "Acknowledge", "acknowledged"),
    ("finops_anomaly_expected", "Expected", "expected"),
    ("finops_anomaly_not", "Not an anomaly", "not_anomaly"),
)
FEEDBACK_STATUS = {action: status for action, _, status in FEEDBACK}
STATUS_WORDS = {"acknowledged": "Acknowledged", "expected": "Marked expected",
                "not_anomaly": "Marked not an anomaly", "open": "Reopened"}  # fmt: skip
ANOMALY_BLOCK = "anomaly:"  # block ids of an anomaly's buttons: anomaly:<id>


def digest_blocks(digest: DailyDigest) -> list[dict]:
    """One message: sections, and under each new anomaly its feedback buttons."""
    blocks: list[dict] = [header_block(headline(digest))]
    for heading, body in sections(digest):
        if heading == "New anomalies" and digest.anomalies:
            blocks.append(_section(f"*{escape(heading)}*"))
            for a, line in zip(digest.anomalies[:MAX_ITEMS], body, strict=False):
                blocks += [_section(f"• {escape(line)}"), feedback_buttons(a.id)]
            blocks += [_section(f"• {escape(line)}") for line in body[MAX_ITEMS:]]
            continue
        blocks.append(section_block(heading, body, "python -m bot digest daily"))
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"Measure: {digest.measure}. Currencies are never added."}
    ]})  # fmt: skip
    return blocks[:50]


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION]}}


def feedback_buttons(anomaly_id: str) -> dict:
    return {
        "type": "actions",
        "block_id": f"{ANOMALY_BLOCK}{anomaly_id}",
        "elements": [
            {
                "type": "button",
                "action_id": action,
                "value": anomaly_id,
                "text": {"type": "plain_text", "text": label},
            }
            for action, label, _ in FEEDBACK
        ],  # fmt: skip
    }


def judged(blocks: list[dict], anomaly_id: str, status: str, user_id: str) -> list[dict]:
    """The card after a decision: the anomaly's buttons replaced by who did what."""
    line = f"{STATUS_WORDS.get(status, status)} by <@{user_id}>"
    out = []
    for block in blocks:
        if block.get("block_id") == f"{ANOMALY_BLOCK}{anomaly_id}":
            block = {"type": "context", "block_id": block["block_id"],
                     "elements": [{"type": "mrkdwn", "text": line}]}  # fmt: skip
        out.append(block)
    return out
