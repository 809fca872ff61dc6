"""HTTP routes served beside Slack in both modes: /healthz always, /slack/events in HTTP
mode. The server itself lives in bot/server.py."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App

from handlers.http.healthz import healthz
from handlers.http.heartbeats import HeartbeatsRoute, agent_file
from handlers.http.routing import Router
from handlers.http.slack_events import SlackEventsRoute


def register(
    router: Router,
    *,
    health: Callable[[], tuple[bool, str]],
    socket_connected: Callable[[], bool] | None,
    app: App | None,
    signing_secret: str | None,
    clock: Callable[[], float],
    heartbeats: HeartbeatsRoute | None = None,
    cache_checks: Callable[[], tuple[bool, dict]] | None = None,
) -> None:
    """``clock``: seconds since the epoch, for the signature's timestamp window;
    ``cache_checks``: the last quick_check and failed writes, for /healthz."""
    router.add("GET", "/healthz", healthz(health, socket_connected, cache_checks))
    if heartbeats is not None:
        router.add("POST", "/v1/heartbeats", heartbeats)
        router.add("GET", "/agent.py", agent_file)
    if app is not None and signing_secret:
        router.add("POST", "/slack/events", SlackEventsRoute(app, signing_secret, clock))
