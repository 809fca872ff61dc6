"""Answer → JSON (the stable contract documented in questions/answer.py and the README)."""

from __future__ import annotations

import json

from finops_bot.questions.answer import Answer


def render_json(answer: Answer) -> str:
    return json.dumps(answer.to_dict(), indent=2, ensure_ascii=False)
