"""Answer → JSON (the stable contract documented in questions/answer.py and the README)."""

from __future__ import annotations

import json
from typing import Any

from finops_bot.questions.answer import Answer


def render_json(answer: Answer, files: list[dict[str, Any]] | None = None) -> str:
    """The answer's fields, plus ``files``: what was written beside it (a series' chart:
    ``{path, mimetype, title, alt_text, bytes}``); ``[]`` when nothing was."""
    payload = answer.to_dict()
    payload["files"] = list(files or [])
    return json.dumps(payload, indent=2, ensure_ascii=False)
