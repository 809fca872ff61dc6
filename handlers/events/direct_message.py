"""A direct message to the bot: answered in the DM (a series with its chart as an image
block)."""

from __future__ import annotations

from handlers.reply import answer_visibly, strip_mention


def is_direct_message(event: dict) -> bool:
    # people's messages only: no bot echoes, edits, joins (they carry a subtype or bot_id)
    return (
        event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id")
    )


def direct_message(event, context, say, client) -> None:
    question = strip_mention(event.get("text", ""), context.get("bot_user_id")) or "help"
    answer_visibly(context, question, say, client, surface="dm")
