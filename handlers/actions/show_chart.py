"""'Show chart' on an ephemeral series answer: the answer computed again on the pool for
the button's question and day, its chart uploaded (privately) and shown only to the person
who clicked, as an image block."""

from __future__ import annotations

from functools import partial

from finops_bot.questions import Answer
from finops_bot.render.blocks import escape, parse_share_value
from finops_bot.render.charts import has_chart
from finops_bot.render.text import freshness_line, measure_line
from handlers.reply import answer_later, audience, message
from handlers.uploads import send_with_image, upload_chart

TOO_OLD = "Sorry, that button is too old; ask the question again."
NO_CHART = "Sorry, the chart could not be made just now; the numbers are in the answer above."


def show_chart(ack, action, client, context, respond, logger) -> None:
    ack()
    reply = partial(respond, response_type="ephemeral", replace_original=False)
    try:
        question, day = parse_share_value(action.get("value", ""))
    except (ValueError, KeyError, TypeError):
        logger.warning("show chart button with an unreadable value: %r", action.get("value"))
        reply(text=TOO_OLD)
        return
    answer_later(
        context["finops"],
        question,
        send=reply,
        day=day,
        then=lambda answer: chart_reply(answer, reply, client),
        user=context.get("user_id"),
        seen_by=audience(context),
    )


def chart_reply(answer: Answer, send, client) -> None:
    """The chart alone (with its measure and freshness); the answer itself when it has no
    chart any more; one line when the chart cannot be uploaded."""
    if not has_chart(answer):
        send(**message(answer))
        return
    image = upload_chart(client, answer)
    if image is None:
        send(text=NO_CHART)
        return
    notes = [t for t in (measure_line(answer), freshness_line(answer)) if t]
    context = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": escape(" · ".join(notes))[:3000] or "Chart"}],
    }
    text = escape(image["title"]["text"])[:300]
    send_with_image(send, {"blocks": [image, context], "text": text}, {"text": NO_CHART})
