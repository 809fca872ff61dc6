"""@finops-bot <question> in a channel: answered in the thread of the mention."""

from __future__ import annotations

from handlers.reply import message, strip_mention


def app_mention(event, context, say) -> None:
    deps = context["finops"]
    answer = deps.answers.ask(strip_mention(event.get("text", "")) or "help")
    say(thread_ts=event.get("thread_ts") or event.get("ts"), **message(answer))
