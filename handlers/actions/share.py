"""'Share in channel': post the same answer visibly (a series with its chart as an image
block). The button carries the question and its day, never data or secrets; the answer is
computed again from the cache."""

from __future__ import annotations

import re
from functools import partial

from finops_bot.render.blocks import escape, parse_share_value
from handlers.reply import answer_visibly

TOO_OLD = "Sorry, that button is too old to share; ask the question again."


def share_in_channel(ack, action, body, context, respond, logger, client=None) -> None:
    ack()
    try:
        question, day = parse_share_value(action.get("value", ""))
    except (ValueError, KeyError, TypeError):
        logger.warning("share button with an unreadable value: %r", action.get("value"))
        respond(response_type="ephemeral", replace_original=False, text=TOO_OLD)
        return
    user = (body.get("user") or {}).get("id")
    credit = isinstance(user, str) and re.fullmatch(r"[A-Z0-9]+", user)

    def post(**reply):
        if credit and "blocks" in reply:
            text = f"Shared by <@{user}> · asked: {escape(question)}"
            credit_block = {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
            reply["blocks"] = [*reply["blocks"], credit_block]  # a retry re-sends the same
        visible = "in_channel" if "blocks" in reply else "ephemeral"  # busy: only to them
        return respond(response_type=visible, replace_original=False, **reply)

    alone = partial(respond, response_type="ephemeral", replace_original=False)
    answer_visibly(context, question, post, client, day=day, alone=alone)
