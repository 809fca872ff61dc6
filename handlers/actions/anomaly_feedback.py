"""[Acknowledge] [Expected] [Not an anomaly] on a digest's anomaly: decided server-side from
the signed user id (bot.feedback); a refusal goes only to the person who clicked and the
card is untouched; a decision updates the card (chat.update) naming who did what."""

from __future__ import annotations

from finops_bot.render.digest import FEEDBACK_STATUS, judged


def anomaly_feedback(ack, action, body, context, client, respond, logger) -> None:
    ack()
    status = FEEDBACK_STATUS.get(action.get("action_id", ""))
    anomaly_id = str(action.get("value") or "")
    user = context.get("user_id")
    feedback = getattr(context["finops"], "feedback", None)
    if not status or not anomaly_id.startswith("an_") or not user or feedback is None:
        logger.warning("anomaly button without a known anomaly: %r", action)
        respond(response_type="ephemeral", replace_original=False,
                text="Sorry, that button is not known here.")  # fmt: skip
        return
    done, said = feedback.judge(user, anomaly_id, status)
    if not done:
        respond(response_type="ephemeral", replace_original=False, text=said)
        return
    message, channel = body.get("message") or {}, (body.get("channel") or {}).get("id")
    if not message.get("ts") or not channel:
        return  # stored; nothing to update (an ephemeral or deleted card)
    blocks = judged(message.get("blocks") or [], anomaly_id, status, user)
    client.chat_update(channel=channel, ts=message["ts"], blocks=blocks,
                       text=message.get("text") or "Daily cost digest")  # fmt: skip
