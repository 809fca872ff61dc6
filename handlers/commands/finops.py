"""/finops <question>: answered in the ack (ephemeral) with a Share button; a question that
takes longer than the ack budget is acked at once and finished through respond()."""

from __future__ import annotations

from concurrent.futures import TimeoutError as FutureTimeout

from finops_bot.render.blocks import escape
from handlers.reply import message


def finops_command(ack, command, context, respond, logger) -> None:
    deps = context["finops"]
    question = (command.get("text") or "").strip() or "help"
    today = deps.answers.today()
    future = deps.answers.submit(question, today)
    try:
        answer = future.result(timeout=deps.ack_budget)
    except FutureTimeout:
        ack(response_type="ephemeral", text=f"Working on “{escape(question[:200])}”…")
        logger.info("slow question, finishing through respond: %r", question)
        answer = future.result()
        respond(response_type="ephemeral", **message(answer, share_for=today))
        return
    ack(response_type="ephemeral", **message(answer, share_for=today))
