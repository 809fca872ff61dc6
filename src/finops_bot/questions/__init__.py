"""Questions: text → Query (parse), date rules (periods), Query → Answer (engine), names."""

from finops_bot.questions.answer import Answer
from finops_bot.questions.engine import Engine

__all__ = ["Answer", "Engine"]
