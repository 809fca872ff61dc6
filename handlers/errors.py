"""Unexpected errors: logged in full; the person sees a short apology, never a trace."""

from __future__ import annotations

from slack_bolt import App

APOLOGY = (
    "Sorry, something went wrong answering that. It has been logged; please try "
    "again, or ask `/finops help`."
)


def register(app: App) -> None:
    app.error(on_error)


def on_error(error, body, logger, client) -> None:
    logger.exception("unhandled error in a listener", exc_info=error)
    try:
        if not isinstance(body, dict):
            return
        if isinstance(body.get("response_url"), str):
            from slack_sdk.webhook import WebhookClient

            WebhookClient(body["response_url"]).send(text=APOLOGY, response_type="ephemeral")
            return
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        if isinstance(event.get("channel"), str):
            client.chat_postMessage(
                channel=event["channel"],
                text=APOLOGY,
                thread_ts=event.get("thread_ts") or event.get("ts"),
            )
    except Exception:  # the apology itself failed: nothing more to do than log it
        logger.exception("could not send the apology")
