"""Build the Bolt app once: client with retries and a configurable base URL, listeners.

Logging: one INFO line per Slack request, in HTTP and Socket Mode alike: what it was
(command, event, action), who sent it, how it was answered and how long the answer (the
ack) took. Slack retries and events delivered twice say so on the same line."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

import handlers
from bot.answers import AnswerService
from bot.clock import real_now
from finops_bot.config import SlackSettings

log = logging.getLogger("finops_bot.slack")

ACK_BUDGET_SECONDS = 2.0  # Slack wants an ack within 3 s; keep a margin


class RecentIds:
    """The last ``size`` event ids seen: an event Slack delivers twice (same event_id, no
    retry header) is answered once."""

    def __init__(self, size: int = 10_000):
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            if len(self._ids) > self.size:
                self._ids.popitem(last=False)
            return True


@dataclass
class SlackDeps:
    """What listeners get through ``context["finops"]``."""

    answers: AnswerService
    ack_budget: float = ACK_BUDGET_SECONDS
    feedback: object | None = None  # bot.feedback.Feedback: decisions on anomalies
    remediation: object | None = None  # bot.remediation.Remediation: proposal cards' clicks
    clock: Callable[[], datetime] = real_now  # the one clock, passed down to listeners

    def __deepcopy__(self, memo: dict) -> SlackDeps:
        """Bolt deep-copies the request context for a lazy listener and silently drops
        what it cannot copy; these are the process's shared services (thread-safe, and a
        copy of the demo's in-memory cloud would be stopped in vain): shared, not copied."""
        return self


def web_client(settings: SlackSettings, token: str | None = None) -> WebClient:
    client = WebClient(token=token, base_url=settings.api_url, timeout=10)
    # 429: wait Retry-After and try again; connection resets: a couple of retries
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=2))
    return client


def make_authorize(settings: SlackSettings):
    """One workspace, one bot token. With FINOPS_BOT_VERIFY_TOKEN=false no auth.test call is
    ever made (Bolt's default single-team authorization makes one on the first request),
    so the bot answers from its cache even with Slack's API out of reach."""
    cached: dict[str, AuthorizeResult] = {}

    def authorize(enterprise_id, team_id, logger) -> AuthorizeResult:
        if "result" in cached:
            return cached["result"]
        if settings.verify_token:
            response = web_client(settings, settings.bot_token).auth_test()
            result = AuthorizeResult.from_auth_test_response(
                auth_test_response=response, bot_token=settings.bot_token
            )
        else:
            result = AuthorizeResult(
                enterprise_id=enterprise_id, team_id=team_id, bot_token=settings.bot_token
            )
        cached["result"] = result
        return result

    return authorize


def request_kind(body: object) -> str:
    """``command /finops``, ``event app_mention``, ``action share``, or Slack's type."""
    if not isinstance(body, dict):
        return "request"
    if "command" in body:
        return f"command {body['command']}"
    kind = str(body.get("type") or "request")
    event = body.get("event")
    if kind == "event_callback" and isinstance(event, dict):
        return f"event {event.get('type', '?')}"
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return f"action {actions[0].get('action_id', '?')}"
    return kind


class LoggedApp(App):
    """Bolt's App, logging one line per request it dispatches: HTTP and Socket Mode both
    come through ``dispatch`` (Bolt's middleware run in a loop, not around each other, so
    a middleware cannot time a request)."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        began = time.perf_counter()
        status: int | str = "failed"
        try:
            response = super().dispatch(req)
            status = response.status
            return response
        finally:
            note = req.context.get("finops_skipped")
            log.info(
                "slack %s from %s: %s in %.0f ms%s",
                request_kind(req.body),
                req.context.user_id or "-",
                status,
                (time.perf_counter() - began) * 1000,
                f" ({note})" if note else "",
            )


def build_app(settings: SlackSettings, deps: SlackDeps) -> App:
    """``settings`` carry the token: serve takes the Slack secrets out of the environment
    once read (bot.deps.slack_settings), or Bolt would find SLACK_BOT_TOKEN there too."""
    app = LoggedApp(
        client=web_client(settings),  # the per-request client copies base URL and retries
        authorize=make_authorize(settings),
        signing_secret=settings.signing_secret or "socket-mode-has-no-signing-secret",
        request_verification_enabled=not settings.socket_mode,
        logger=log,
    )

    seen = RecentIds()

    @app.middleware
    def skip_slack_retries(req, resp, next):  # noqa: A002 - Bolt's name
        # Slack re-sends an event it thinks we missed; the first delivery already answered
        if req.headers.get("x-slack-retry-num"):
            reason = (req.headers.get("x-slack-retry-reason") or ["?"])[0]
            retry = req.headers["x-slack-retry-num"][0]
            req.context["finops_skipped"] = f"Slack retry {retry} ({reason}), ignored"
            return BoltResponse(status=200, body="")
        event_id = req.body.get("event_id") if isinstance(req.body, dict) else None
        if isinstance(event_id, str) and not seen.first(event_id):
            req.context["finops_skipped"] = f"event {event_id} delivered twice, ignored"
            return BoltResponse(status=200, body="")
        req.context["finops"] = deps
        return next()

    handlers.register(app)
    return app
