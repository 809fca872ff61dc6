"""Answer → the keyword arguments of ack/respond/say (blocks + fallback text), and the one
way listeners answer: on the answer pool, never holding a Bolt listener thread longer than
the ack budget."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import date

from finops_bot.questions import Answer
from finops_bot.render.blocks import answer_blocks, answer_fallback_text, escape, share_value
from handlers.errors import APOLOGY

BUSY = "I'm busy answering other questions; try again in a minute."
log = logging.getLogger("finops_bot.slack")

Send = Callable[..., object]


def message(answer: Answer, *, share_for: date | None = None) -> dict:
    share = share_value(answer.question, share_for) if share_for and answer.has_number else None
    return {"blocks": answer_blocks(answer, share=share), "text": answer_fallback_text(answer)}


def strip_mention(text: str) -> str:
    """'<@U123> top projects' → 'top projects'."""
    return re.sub(r"<@[A-Z0-9]+(\|[^>]*)?>", " ", text or "").strip()


def answer_soon(
    deps,
    question: str,
    *,
    first: Send,
    later: Send,
    share: bool = True,
    working: bool = True,
    day: date | None = None,
) -> None:
    """Answer through ``first`` (the ack, or the first reply) when the answer comes within
    the ack budget; else ``first`` says it is working on it (when ``working``) and ``later``
    gets the answer from the pool thread. A full pool gets BUSY through ``first`` at once.
    ``day``: answer as of that day (a Share button's), else today."""
    today = day or deps.answers.today()
    future = deps.answers.submit(question, today)
    if future is None:
        log.warning("answer pool full; refused %r", question[:80])
        first(text=BUSY)
        return
    try:
        answer = future.result(timeout=deps.ack_budget)
    except FutureTimeout:
        if working:
            first(text=f"Working on “{escape(question[:200])}”…")
        future.add_done_callback(lambda done: _deliver(done, later, today if share else None))
        return
    except Exception:
        log.exception("answering %r failed", question[:80])
        first(text=APOLOGY)
        return
    first(**message(answer, share_for=today if share else None))


def _deliver(done: Future, send: Send, share_for: date | None) -> None:
    try:
        payload = message(done.result(), share_for=share_for)
    except Exception:
        log.exception("answering a slow question failed")
        payload = {"text": APOLOGY}
    try:
        send(**payload)
    except Exception:  # Slack unreachable: nothing more to do than log it
        log.exception("could not deliver a slow answer")
