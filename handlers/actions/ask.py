"""A suggestion or "did you mean" button: ask the question it carries, answered only to the
person who clicked (like /finops), with a Share button."""

from __future__ import annotations

from functools import partial

from handlers.reply import answer_soon, audience


def ask_suggestion(ack, action, context, respond, logger) -> None:
    ack()
    question = str(action.get("value") or "").strip()
    if not question:
        logger.warning("ask button without a question: %r", action)
        return
    reply = partial(respond, response_type="ephemeral", replace_original=False)
    answer_soon(
        context["finops"],
        question,
        first=reply,
        later=reply,
        working=False,
        user=context.get("user_id"),
        seen_by=audience(context),
    )
