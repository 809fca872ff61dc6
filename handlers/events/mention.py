"""@finops-bot <question> in a channel: answered in the thread of the mention (a series
with its chart as an image block)."""

from __future__ import annotations

from functools import partial

from handlers.reply import answer_visibly, strip_mention


def app_mention(event, context, say, client) -> None:
    reply = partial(say, thread_ts=event.get("thread_ts") or event.get("ts"))
    question = strip_mention(event.get("text", ""), context.get("bot_user_id")) or "help"
    answer_visibly(context, question, reply, client)
