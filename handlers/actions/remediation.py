"""[Stop] [Snooze 4h] [Keep until…] [Start again] on a proposal card. Acked at once; the
work (the cloud read, the decision, the cloud call) runs after the ack (a lazy listener).
Everything is decided server-side from the signed user id (bot.remediation → the runner).
A refusal goes only to the person who clicked and the card is untouched; a decision
redraws the card (chat.update, or response_url for an ephemeral card, else a new
ephemeral message) and, when someone else acted, tells the owner in a DM."""

from __future__ import annotations

from finops_bot.render.proposals import FIX_KEEP

_SORRY = "Sorry, that button is not known here."


def ack_fix(ack) -> None:
    ack()


def unknown_fix(ack, respond) -> None:
    ack()
    respond(response_type="ephemeral", replace_original=False, text=_SORRY)


def fix_click(action, body, context, client, respond, logger) -> None:
    service = getattr(context["finops"], "remediation", None)
    user = context.get("user_id")
    action_id = str(action.get("action_id") or "")
    if service is None or not user:
        respond(response_type="ephemeral", replace_original=False, text=_SORRY)
        return
    value, picked = action.get("value"), None
    if action_id.startswith(FIX_KEEP + ":"):  # a datepicker sends no value: it is in the id
        action_id, value, picked = (
            FIX_KEEP,
            action_id[len(FIX_KEEP) + 1 :],
            action.get("selected_date"),
        )
    click = service.click(user, action_id, value, context["finops"].clock(), picked)
    result = click.result
    if not result.done or click.blocks is None:
        respond(response_type="ephemeral", replace_original=False, text=result.message)
        if click.blocks is None:
            return
    _redraw(body, client, respond, click, user, logger)
    p = result.proposal
    if p.card_channel and p.card_ts and p.card_ts != (body.get("message") or {}).get("ts"):
        client.chat_update(
            channel=p.card_channel, ts=p.card_ts, text=click.text, blocks=click.blocks
        )
    if result.notify_owner:
        owner = service.owner_user(p)
        if owner and owner != user:
            client.chat_postMessage(channel=owner, text=result.notify_owner)


def _redraw(body, client, respond, click, user, logger) -> None:
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    message = body.get("message") or {}
    if not container.get("is_ephemeral") and message.get("ts") and channel:
        client.chat_update(channel=channel, ts=message["ts"], text=click.text, blocks=click.blocks)
        return
    try:  # an ephemeral card: its response_url while it lasts, then a new ephemeral message
        respond(replace_original=True, text=click.text, blocks=click.blocks)
    except Exception as exc:
        logger.info("response_url refused the card update (%s); posting it anew", exc)
        if channel:
            client.chat_postEphemeral(
                channel=channel, user=user, text=click.text, blocks=click.blocks
            )
