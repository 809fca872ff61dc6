"""A message made of (heading, lines) sections, as text and as Block Kit sections: what the
digests share."""

from __future__ import annotations

from finops_bot.render.blocks import escape

MAX_SECTION = 2900


def sections_text(headline: str, sections: list[tuple[str, list[str]]]) -> list[str]:
    lines = [headline]
    for heading, body in sections:
        lines.append("")
        if heading:
            lines.append(heading)
        lines.extend(f"  {line}" for line in body)
    return lines


def header_block(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def section_block(heading: str, body: list[str], more: str) -> dict:
    """One section; past Slack's limit it ends with "… and N more" and ``more`` (the
    command that shows all)."""
    head = f"*{escape(heading)}*\n" if heading else ""
    lines = [f"• {escape(line)}" for line in body]
    shown = list(lines)
    while shown and len(head + "\n".join(shown)) > MAX_SECTION - 80:
        shown.pop()
    text = head + "\n".join(shown)
    if len(shown) < len(lines):
        text += f"\n… and {len(lines) - len(shown)} more: {more}"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION]}}
