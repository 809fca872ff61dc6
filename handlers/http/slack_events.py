"""POST /slack/events: verify Slack's signature (401), check the body parses (400), then
hand the request to Bolt. Nothing runs for a request that fails either check."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from handlers.http.routing import Request, Response

log = logging.getLogger("finops_bot.http")


def _parses(request: Request) -> bool:
    try:
        text = request.body.decode("utf-8")
        if request.headers.get("content-type", "").startswith("application/json"):
            return isinstance(json.loads(text), dict)
        form = parse_qs(text, strict_parsing=True, keep_blank_values=True)
        if "payload" in form:
            return isinstance(json.loads(form["payload"][0]), dict)
        return "command" in form or "type" in form or "token" in form
    except (UnicodeDecodeError, ValueError):
        return False


class SlackEventsRoute:
    def __init__(self, app: App, signing_secret: str):
        self.app = app
        self.verifier = SignatureVerifier(signing_secret)

    def __call__(self, request: Request) -> Response:
        if not self.verifier.is_valid_request(request.body, request.headers):
            log.warning("refused a request with a bad signature or a stale timestamp")
            return Response.json(401, {"error": "invalid signature or stale timestamp"})
        if not _parses(request):
            return Response.json(400, {"error": "malformed request body"})
        bolt = self.app.dispatch(
            BoltRequest(
                body=request.body.decode("utf-8"),
                query=request.query,
                headers={k: [v] for k, v in request.headers.items()},
            )
        )
        headers = {k: v[0] if isinstance(v, list) else v for k, v in bolt.headers.items()}
        return Response(bolt.status, (bolt.body or "").encode("utf-8"), headers)
