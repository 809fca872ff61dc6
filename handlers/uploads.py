"""A series answer's chart into Slack: the PNG uploaded with ``files_upload_v2`` and no
channel (the file stays the bot's own: never shared to a channel, never a public URL), then
shown by its id in an image block (``"slack_file": {"id": ...}``).

An answer is never lost to its chart: an upload that fails is logged and the message goes
without the image; an image Slack refuses (a file just uploaded can take a moment to be
usable in blocks) is tried again after RETRY_DELAYS, then the message goes without it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError

from finops_bot.questions import Answer
from finops_bot.render.blocks import image_block
from finops_bot.render.charts import chart_alt, chart_filename, chart_png, has_chart

log = logging.getLogger("finops_bot.slack")
RETRY_DELAYS = (0.5, 1.5)  # seconds before showing a just-uploaded image again

Send = Callable[..., object]


def upload_chart(client, answer: Answer) -> dict | None:
    """Draw and upload the answer's chart; its image block, or None (logged) when the answer
    has no chart or the drawing or the upload fails."""
    if client is None or not has_chart(answer):
        return None
    try:
        png = chart_png(answer)
        alt = chart_alt(answer)
        title = answer.title or "Chart"
        response = client.files_upload_v2(
            content=png, filename=chart_filename(answer), title=title, alt_txt=alt
        )
        file_id = (response.get("file") or {}).get("id")
    except Exception:  # Slack down, a missing scope, a drawing bug: the answer goes anyway
        log.warning("could not upload the chart for %r", answer.question[:80], exc_info=True)
        return None
    if not isinstance(file_id, str) or not file_id:
        log.warning("the chart upload for %r returned no file id", answer.question[:80])
        return None
    return image_block(file_id, title, alt)


def send_with_image(
    send: Send, with_image: dict, without: dict, *, sleep: Callable[[float], None] = time.sleep
) -> bool:
    """Send ``with_image``; while Slack refuses its blocks, again after each delay; then
    ``without``. True when the image went out. Other errors of ``send`` are raised."""
    for delay in (0.0, *RETRY_DELAYS):
        if delay:
            sleep(delay)
        try:
            result = send(**with_image)
        except SlackApiError as exc:  # say() / chat.postMessage
            error = exc.response.get("error") if exc.response is not None else None
            if error != "invalid_blocks":
                raise
            log.info("Slack refused the chart's blocks (%s); trying again", exc.response)
            continue
        status = getattr(result, "status_code", None)  # respond(): a WebhookResponse
        if status is None or status == 200:
            return True
        body = str(getattr(result, "body", ""))
        log.info("Slack refused the chart's blocks (%s %s)", status, body[:200])
        if "invalid_blocks" not in body and "slack_file" not in body:
            break  # not about the image: no use waiting for it
    log.warning("sending the answer without its chart: Slack did not take the image")
    send(**without)
    return False
