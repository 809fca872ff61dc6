"""Answer → the keyword arguments of ack/respond/say (blocks + fallback text)."""

from __future__ import annotations

import re
from datetime import date

from finops_bot.questions import Answer
from finops_bot.render.blocks import answer_blocks, answer_fallback_text, share_value


def message(answer: Answer, *, share_for: date | None = None) -> dict:
    share = share_value(answer.question, share_for) if share_for and answer.has_number else None
    return {"blocks": answer_blocks(answer, share=share), "text": answer_fallback_text(answer)}


def strip_mention(text: str) -> str:
    """'<@U123> top projects' → 'top projects'."""
    return re.sub(r"<@[A-Z0-9]+(\|[^>]*)?>", " ", text or "").strip()
