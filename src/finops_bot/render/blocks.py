"""Answer → Slack Block Kit, as plain dicts (the core imports no Slack code).

Kept inside Slack's limits (see shared/fixtures/slack/LIMITS.md): at most 50 blocks, 3,000
characters per section text, 150 per header, 2,000 per button value, and a whole message
well under the ~13k characters Slack accepts.
"""

from __future__ import annotations

import json
from datetime import date

from finops_bot.money import format_change, format_money
from finops_bot.questions.answer import Answer
from finops_bot.render.charts import has_chart, is_series, spark_lines
from finops_bot.render.outlook import outlook_lines
from finops_bot.render.text import (
    comparison_lines,
    freshness_line,
    hours_total,
    measure_line,
    nothing_line,
    rate,
    row_amount,
    scope_line,
    top_line,
)

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_BUTTON_VALUE = 2000
MAX_MESSAGE = 12_000
SHARE_ACTION = "finops_share"
SHOW_CHART_ACTION = "finops_show_chart"  # its value: the share value (question + day)
MAX_IMAGE_TEXT = 2000  # an image block's title and alt_text
ASK_ACTION = "finops_ask"  # suggestion buttons: finops_ask_0, finops_ask_1, … (unique ids)
MAX_ASK_BUTTONS = 5


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Slack mrkdwn control characters as entities: user text can never mention a channel
    (<!channel>), a person (<@U1>) or make a link (<http://x|y>)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_escape = escape


def share_value(question: str, today: date) -> str | None:
    """The share button's value: the question and the day it was answered for (no secret)."""
    value = json.dumps({"q": question, "d": today.isoformat()}, ensure_ascii=False)
    return value if len(value) <= MAX_BUTTON_VALUE else None


def parse_share_value(value: str) -> tuple[str, date]:
    data = json.loads(value)
    return str(data["q"]), date.fromisoformat(data["d"])


def _header(answer: Answer) -> str:
    label = answer.period.label if answer.period else ""
    # a title that already names its period ("Daily spend · … · last 7 days") keeps it once
    period = f" · {label}" if label and not answer.title.endswith(label) else ""
    return _cut(f"{answer.title}{period}", MAX_HEADER)


def _total_text(answer: Answer) -> str:
    """Totals, the top N's share and the comparison; escaped whole (currency codes and
    notes come from billing data)."""
    lines = []
    span = answer.period.describe() if answer.period else ""
    if hours := hours_total(answer):
        lines.append(f"*{hours}*{'  (' + span + ')' if span else ''}")
    elif not answer.totals:  # side by side (rows only): the period, not "no spend"
        shown = (answer.rows or answer.budgets or answer.rates) and span
        lines.append(f"_{span}_" if shown else nothing_line(answer, span))
    for currency, total in answer.totals.items():
        lines.append(
            f"*{format_money(total, currency)}{rate(answer)}*  "
            f"({currency}{', ' + span if span else ''})"
        )
    lines.extend(outlook_lines(answer))
    if top := top_line(answer):
        lines.append(top)
    lines.extend(comparison_lines(answer))
    return escape("\n".join(lines))


def _rows_text(answer: Answer, limit: int) -> str:
    lines = []
    rows = answer.rows[-limit:] if is_series(answer) else answer.rows[:limit]
    if is_series(answer) and len(answer.rows) > limit:  # a series: its latest buckets
        lines.append(f"_… {len(answer.rows) - limit} earlier_")
    for r in rows:
        line = f"• {r.key}  *{row_amount(answer, r)}*"
        if r.previous_cost is not None:
            line += f"  (before {format_money(r.previous_cost, r.currency)}, "
            line += f"{format_change(r.cost, r.previous_cost)})"
        lines.append(_escape(line))  # keys and currency codes come from billing data
    more = answer.more_rows + (0 if is_series(answer) else max(len(answer.rows) - limit, 0))
    if more:
        lines.append(f"_and {more} more_")
    return "\n".join(lines)


def spark_block(answer: Answer) -> dict:
    """The series at a glance: a sparkline per currency, with min, max and last."""
    text = "\n".join(f"`{escape(line)}`" for line in spark_lines(answer))
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}}


def image_block(file_id: str, title: str, alt_text: str) -> dict:
    """A chart uploaded to Slack (privately: no channel), shown by its file id."""
    return {
        "type": "image",
        "slack_file": {"id": file_id},
        "title": {"type": "plain_text", "text": _cut(title or "Chart", MAX_IMAGE_TEXT)},
        "alt_text": _cut(alt_text or title or "Chart", MAX_IMAGE_TEXT),
    }


def ask_buttons(questions: list[str]) -> list[dict]:
    """Buttons that ask a question (suggestions, "did you mean"): the value is the question."""
    buttons = []
    for i, question in enumerate(questions[:MAX_ASK_BUTTONS]):
        if len(question) > MAX_BUTTON_VALUE:
            continue
        buttons.append(
            {
                "type": "button",
                "action_id": f"{ASK_ACTION}_{i}",
                "text": {"type": "plain_text", "text": _cut(question, 75)},
                "value": question,
            }
        )
    return buttons


def _numberless_blocks(answer: Answer) -> list[dict]:
    text = _escape(answer.message or answer.title)
    if answer.rows:
        text += "\n" + "\n".join(
            _escape(f"• {r.key}  {format_money(r.cost, r.currency)}") for r in answer.rows[:10]
        )
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}}
    ]
    if answer.did_you_mean:
        names = ", ".join(f"`{_escape(s)}`" for s in answer.did_you_mean)
        blocks.append(_context([f"Known names like it: {names}"]))
    buttons = ask_buttons(answer.suggestions)
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    if answer.data_through and answer.kind != "help":
        blocks.append(_context([_escape(freshness_line(answer))]))
    return blocks


def answer_blocks(
    answer: Answer,
    *,
    share: str | None = None,
    chart: str | None = None,
    image: dict | None = None,
) -> list[dict]:
    """Blocks for one answer. ``share``: the Share-in-channel button's value, if wanted;
    ``chart``: the Show chart button's value (a series only); ``image``: an image block
    (``image_block``) shown after the totals."""
    if not answer.has_number:
        return _fit(_numberless_blocks(answer))
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header(answer)}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(_total_text(answer), MAX_SECTION)},
        },
    ]
    if is_series(answer):
        blocks.append(spark_block(answer))
    if image:
        blocks.append(image)
    if answer.rows:
        limit = 10
        text = _rows_text(answer, limit)
        while len(text) > MAX_SECTION and limit > 1:
            limit -= 1
            text = _rows_text(answer, limit)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}}
        )
    context = [measure_line(answer), scope_line(answer), freshness_line(answer)]
    context += [n for n in answer.notes]
    blocks.append(_context([_escape(c) for c in context if c]))
    elements = []
    if share:
        elements.append(
            {
                "type": "button",
                "action_id": SHARE_ACTION,
                "text": {"type": "plain_text", "text": "Share in channel"},
                "value": share,
            }
        )
    if chart and has_chart(answer) and len(chart) <= MAX_BUTTON_VALUE:
        elements.append(
            {
                "type": "button",
                "action_id": SHOW_CHART_ACTION,
                "text": {"type": "plain_text", "text": "Show chart"},
                "value": chart,
            }
        )
    elements += ask_buttons(answer.suggestions[:3])
    if elements:
        blocks.append({"type": "actions", "elements": elements})
    if answer.cards:  # proposals on the nodes shown, with their buttons
        from finops_bot.render.proposals import proposal_blocks  # it uses escape from here

        for card in answer.cards:
            blocks += proposal_blocks(card, None)
    return _fit(blocks)


def _context(texts: list[str]) -> dict:
    # a context block holds at most 10 elements, each text at most 3,000 characters
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": _cut(t, MAX_SECTION)} for t in texts[:10]],
    }


def _fit(blocks: list[dict]) -> list[dict]:
    blocks = blocks[:MAX_BLOCKS]
    while len(json.dumps(blocks)) > MAX_MESSAGE and len(blocks) > 2:
        blocks.pop(-2 if blocks[-1]["type"] == "actions" else -1)
    return blocks


def answer_fallback_text(answer: Answer) -> str:
    """The notification / screen-reader text that goes with the blocks."""
    if not answer.has_number:
        return _cut(escape(answer.message or answer.title), 300)
    totals = hours_total(answer) or (
        ", ".join(format_money(v, c) for c, v in answer.totals.items()) or "no spend"
    )
    return _cut(escape(f"{_header(answer)}: {totals}"), 300)
