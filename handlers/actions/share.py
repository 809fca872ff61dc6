"""'Share in channel': post the same answer visibly. The button carries the question and
its day, never data or secrets; the answer is computed again from the cache."""

from __future__ import annotations

import re

from finops_bot.render.blocks import escape, parse_share_value
from handlers.reply import message


def share_in_channel(ack, action, body, context, respond, logger) -> None:
    ack()
    deps = context["finops"]
    try:
        question, day = parse_share_value(action.get("value", ""))
    except (ValueError, KeyError, TypeError):
        logger.warning("share button with an unreadable value: %r", action.get("value"))
        respond(
            response_type="ephemeral",
            replace_original=False,
            text="Sorry, that button is too old to share; ask the question again.",
        )
        return
    reply = message(deps.answers.ask(question, day))
    user = (body.get("user") or {}).get("id")
    if isinstance(user, str) and re.fullmatch(r"[A-Z0-9]+", user):
        reply["blocks"].append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"Shared by <@{user}> · asked: {escape(question)}"}
                ],
            }
        )
    respond(response_type="in_channel", replace_original=False, **reply)
