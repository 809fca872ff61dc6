"""/finops <question>: answered in the ack (ephemeral) with a Share button; a question that
takes longer than the ack budget is acked at once and finished through respond()."""

from __future__ import annotations

from handlers.reply import answer_soon, audience


def finops_command(ack, command, context, respond) -> None:
    question = (command.get("text") or "").strip() or "help"
    answer_soon(
        context["finops"],
        question,
        first=lambda **kw: ack(response_type="ephemeral", **kw),
        later=lambda **kw: respond(response_type="ephemeral", **kw),
        user=context.get("user_id"),
        seen_by=audience(context),
    )
