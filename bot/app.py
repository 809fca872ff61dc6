"""Build the Bolt app once: client with retries and a configurable base URL, listeners."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

import handlers
from bot.answers import AnswerService
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


def build_app(settings: SlackSettings, deps: SlackDeps) -> App:
    app = App(
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
            log.info("ignoring Slack retry %s (%s)", req.headers["x-slack-retry-num"], reason)
            return BoltResponse(status=200, body="")
        event_id = req.body.get("event_id") if isinstance(req.body, dict) else None
        if isinstance(event_id, str) and not seen.first(event_id):
            log.info("ignoring event %s delivered twice", event_id)
            return BoltResponse(status=200, body="")
        req.context["finops"] = deps
        return next()

    handlers.register(app)
    return app
