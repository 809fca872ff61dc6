"""A suggestion or "did you mean" button: ask the question it carries, answered only to the
person who clicked (like /finops), with a Share button."""

from __future__ import annotations

from handlers.reply import message


def ask_suggestion(ack, action, context, respond, logger) -> None:
    ack()
    deps = context["finops"]
    question = str(action.get("value") or "").strip()
    if not question:
        logger.warning("ask button without a question: %r", action)
        return
    today = deps.answers.today()
    answer = deps.answers.ask(question, today)
    respond(response_type="ephemeral", replace_original=False, **message(answer, share_for=today))
