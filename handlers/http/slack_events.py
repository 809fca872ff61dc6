"""POST /slack/events: verify Slack's signature (401), check the body parses (400), then
hand the request to Bolt. Nothing runs for a request that fails either check, whatever its
bytes: the signature is checked over the raw body, and a timestamp that is not a number or
a signature that is not ASCII is simply not valid. A signed request Bolt cannot handle is
400, never 500."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.request import BoltRequest

from handlers.http.routing import Request, Response

log = logging.getLogger("finops_bot.http")
MAX_SKEW_SECONDS = 300


def signed(secret: bytes, body: bytes, headers: dict[str, str], now: float) -> bool:
    """Slack's v0 signature over the raw bytes, with a timestamp at most 5 minutes off."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS or not signature.isascii():
        return False
    mac = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return hmac.compare_digest(f"v0={mac.hexdigest()}".encode(), signature.encode())


def _well_formed(body: object) -> bool:
    """The few fields the app reads have the types Slack sends."""
    if not isinstance(body, dict) or not isinstance(body.get("type", ""), str):
        return False
    if body.get("type") == "event_callback":
        event = body.get("event")
        return isinstance(event, dict) and isinstance(event.get("type"), str)
    if "actions" in body:
        actions = body["actions"]
        return isinstance(actions, list) and all(isinstance(a, dict) for a in actions)
    return all(isinstance(body.get(k, {}), dict) for k in ("user", "team", "channel"))


def _parses(request: Request) -> bool:
    try:
        text = request.body.decode("utf-8")
        if request.headers.get("content-type", "").startswith("application/json"):
            return _well_formed(json.loads(text))
        form = parse_qs(text, strict_parsing=True, keep_blank_values=True)
        if any(len(values) > 1 for values in form.values()):
            return False  # a field given twice
        if "payload" in form:
            return _well_formed(json.loads(form["payload"][0]))
        return "command" in form or "type" in form or "token" in form
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False


class SlackEventsRoute:
    def __init__(self, app: App, signing_secret: str, now: Callable[[], float]):
        self.app = app
        self.secret = signing_secret.encode()
        self.now = now  # seconds since the epoch, from bot/'s clock

    def __call__(self, request: Request) -> Response:
        if not signed(self.secret, request.body, request.headers, self.now()):
            log.warning("refused a request with a bad signature or a stale timestamp")
            return Response.json(401, {"error": "invalid signature or stale timestamp"})
        if not _parses(request):
            return Response.json(400, {"error": "malformed request body"})
        try:
            bolt = self.app.dispatch(
                BoltRequest(
                    body=request.body.decode("utf-8"),
                    query=request.query,
                    headers={k: [v] for k, v in request.headers.items()},
                )
            )
        except Exception:  # a signed payload of a shape Bolt cannot read
            log.exception("could not handle a signed Slack request")
            return Response.json(400, {"error": "unreadable Slack payload"})
        if bolt.status >= 500:  # a listener failed: logged, and the person got an apology
            log.error(
                "a Slack listener failed (%s); answered 200 so Slack does not retry", bolt.status
            )
            return Response.json(200, {})
        headers = {k: v[0] if isinstance(v, list) else v for k, v in bolt.headers.items()}
        return Response(bolt.status, (bolt.body or "").encode("utf-8"), headers)
