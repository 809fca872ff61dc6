"""/finops <question>: answered in the ack (ephemeral) with a Share button; a question that
takes longer than the ack budget is acked at once and finished through respond()."""

from __future__ import annotations

import re

from handlers.reply import answer_soon, audience

MUTE = re.compile(r"^(un)?mute\s+digests?(?:\s+(\d{1,3})\s*d(?:ays?)?)?$", re.I)
AUDIT = re.compile(r"^audit\s+([\w.:/-]{1,200})$", re.I)


def finops_command(ack, command, context, respond) -> None:
    question = (command.get("text") or "").strip() or "help"
    mute = MUTE.match(question)
    feedback = getattr(context["finops"], "feedback", None)
    if mute and feedback is not None and context.get("user_id"):
        days = 0 if mute[1] else int(mute[2] or 7)
        ack(response_type="ephemeral", text=feedback.mute_digests(context["user_id"], days))
        return
    audit = AUDIT.match(question)
    fixes = getattr(context["finops"], "remediation", None)
    if audit and fixes is not None and context.get("user_id"):
        ack(response_type="ephemeral", text="Looking up the remediation audit…")
        respond(
            response_type="ephemeral",
            text=fixes.audit_for(context["user_id"], audit[1], command.get("channel_id")),
        )
        return
    answer_soon(
        context["finops"],
        question,
        first=lambda **kw: ack(response_type="ephemeral", **kw),
        later=lambda **kw: respond(response_type="ephemeral", **kw),
        user=context.get("user_id"),
        seen_by=audience(context),
    )
