"""Answer → the keyword arguments of ack/respond/say (blocks + fallback text), and the one
way listeners answer: on the answer pool, never holding a Bolt listener thread longer than
the ack budget.

Charts: an ephemeral answer with a series carries a Show chart button (same value as the
Share button: question + day). A visible one (mention, DM, shared answer: a ``client`` is
given) is sent from the pool thread with its chart uploaded and shown as an image block
(see handlers.uploads); the listener holds nothing while the chart is drawn and uploaded."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import date

from finops_bot.access import Audience
from finops_bot.questions import Answer
from finops_bot.render.blocks import answer_blocks, answer_fallback_text, escape, share_value
from handlers.errors import APOLOGY
from handlers.uploads import send_with_image, upload_chart

BUSY = "I'm busy answering other questions; try again in a minute."
log = logging.getLogger("finops_bot.slack")

Send = Callable[..., object]


def message(answer: Answer, *, share_for: date | None = None, image: dict | None = None) -> dict:
    """Blocks + text. ``share_for``: the Share button (and, for a series, Show chart);
    ``image``: a chart's image block (then no Show chart button)."""
    share = share_value(answer.question, share_for) if share_for and answer.has_number else None
    chart = share if image is None else None
    blocks = answer_blocks(answer, share=share, chart=chart, image=image)
    return {"blocks": blocks, "text": answer_fallback_text(answer)}


def deliver(
    answer: Answer,
    send: Send,
    *,
    client=None,
    share_for: date | None = None,
    alone: Send | None = None,
) -> bool:
    """Send one answer through ``send``; with a Web API ``client``, a series goes with its
    chart (uploaded privately, shown as an image block), else without it: an upload or an
    image that fails never loses the answer. True when a chart went out. For visible
    messages (mentions, DMs, shared answers, digests). ``alone``: where a refusal goes
    instead (only to the person who asked)."""
    if answer.refused and alone is not None:
        alone(**message(answer))
        return False
    image = upload_chart(client, answer)
    plain = message(answer, share_for=share_for)
    if image is None:
        send(**plain)
        return False
    return send_with_image(send, message(answer, share_for=share_for, image=image), plain)


def strip_mention(text: str, bot_user_id: str | None = None) -> str:
    """'<@UBOT> how much did <@U123> spend' → 'how much did <@U123> spend': the bot's own
    mention goes (without its id: a mention at the start); people's mentions stay."""
    text = text or ""
    if bot_user_id:
        return re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text).strip()
    return re.sub(r"^\s*<@[A-Z0-9]+(\|[^>]*)?>", " ", text).strip()


def audience(context, surface: str = "ephemeral") -> Audience:
    """Who will see an answer: ``surface`` (ephemeral, visible or dm) in the channel Slack
    signed the request for (Bolt's context.channel_id)."""
    return Audience(surface, context.get("channel_id"))


def _submit(deps, question: str, today: date, user: str | None, seen_by: Audience | None):
    """Queue on the answer pool, as the signed Slack user ("my spend", what they may see)."""
    return deps.answers.submit(question, today, user_id=user, audience=seen_by)


def answer_later(
    deps,
    question: str,
    *,
    send: Send,
    then: Callable[[Answer], object],
    day: date | None = None,
    user: str | None = None,
    seen_by: Audience | None = None,
) -> None:
    """Queue the question and return at once: ``then(answer)`` runs on the pool thread
    that answered it (an error: APOLOGY through ``send``); a full pool: BUSY at once."""
    future = _submit(deps, question, day or deps.answers.today(), user, seen_by)
    if future is None:
        log.warning("answer pool full; refused %r", question[:80])
        send(text=BUSY)
        return

    def done(finished: Future) -> None:
        try:
            then(finished.result())
        except Exception:
            log.exception("answering %r failed", question[:80])
            try:
                send(text=APOLOGY)
            except Exception:  # Slack unreachable: nothing more to do than log it
                log.exception("could not deliver the apology")

    future.add_done_callback(done)


def answer_soon(
    deps,
    question: str,
    *,
    first: Send,
    later: Send,
    share: bool = True,
    working: bool = True,
    day: date | None = None,
    client=None,
    user: str | None = None,
    seen_by: Audience | None = None,
    alone: Send | None = None,
) -> None:
    """Answer through ``first`` (the ack, or the first reply) when the answer comes within
    the ack budget; else ``first`` says it is working on it (when ``working``) and ``later``
    gets the answer from the pool thread. A full pool gets BUSY through ``first`` at once.
    ``day``: answer as of that day (a Share button's), else today. ``client``: a visible
    answer, sent through ``later`` from the pool with its chart (see ``deliver``). ``user``:
    the Slack user id Slack signed the request for (Bolt's context.user_id); ``seen_by``:
    who will see the answer (``audience``; None: only the asker)."""
    today = day or deps.answers.today()
    if client is not None:
        answer_later(
            deps,
            question,
            send=later,
            day=today,
            then=lambda answer: deliver(answer, later, client=client, alone=alone),
            user=user,
            seen_by=seen_by,
        )
        return
    future = _submit(deps, question, today, user, seen_by)
    if future is None:
        log.warning("answer pool full; refused %r", question[:80])
        first(text=BUSY)
        return
    try:
        answer = future.result(timeout=deps.ack_budget)
    except FutureTimeout:
        if working:
            first(text=f"Working on “{escape(question[:200])}”…")
        future.add_done_callback(lambda done: _deliver(done, later, today if share else None))
        return
    except Exception:
        log.exception("answering %r failed", question[:80])
        first(text=APOLOGY)
        return
    first(**message(answer, share_for=today if share else None))


def answer_visibly(
    context,
    question: str,
    send: Send,
    client,
    day: date | None = None,
    surface: str = "visible",
    alone: Send | None = None,
) -> None:
    """A visible answer (mention, shared answer; ``surface`` "dm" for a DM): from the pool,
    with its chart, as the signed user, showing what that audience may see; nothing in
    the listener's thread."""
    answer_soon(
        context["finops"],
        question,
        first=send,
        later=send,
        share=False,
        working=False,
        day=day,
        client=client,
        user=context.get("user_id"),
        seen_by=audience(context, surface),
        alone=alone,
    )


def _deliver(done: Future, send: Send, share_for: date | None) -> None:
    try:
        payload = message(done.result(), share_for=share_for)
    except Exception:
        log.exception("answering a slow question failed")
        payload = {"text": APOLOGY}
    try:
        send(**payload)
    except Exception:  # Slack unreachable: nothing more to do than log it
        log.exception("could not deliver a slow answer")
