"""POST /v1/heartbeats (Bearer agent token) and GET /agent.py. 401 bad token, 400 bad batch
(which field, why), 413 over 1 MiB (the server), 429 when one token floods; a replayed
batch_id is answered 200 and stored once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from finops_bot.agent import finops_agent
from finops_bot.gpu.heartbeat import HeartbeatError, store_batch, validate_batch
from finops_bot.gpu.tokens import verify_token
from finops_bot.store import connect
from handlers.http.routing import Request, Response

AGENT_FILE = Path(finops_agent.__file__)


class TokenBucket:
    """Per-token rate limit: ``rate`` batches a second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.state: dict[int, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: int, now: float) -> bool:
        with self.lock:
            tokens, last = self.state.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self.state[key] = (tokens, now)
                return False
            self.state[key] = (tokens - 1, now)
            return True


class HeartbeatsRoute:
    def __init__(
        self, db_path: Path, now: Callable[[], datetime], rate: float = 100.0, burst: int = 500
    ):
        self.db_path = db_path
        self.now = now
        self.limit = TokenBucket(rate, burst)
        self._local = threading.local()

    def _db(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.db_path)
        return db

    def __call__(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return Response.json(401, {"error": "send Authorization: Bearer <agent token>"})
        db = self._db()
        token_id = verify_token(db, auth[7:].strip())
        if token_id is None:
            return Response.json(401, {"error": "unknown or revoked agent token"})
        if not self.limit.allow(token_id, time.monotonic()):
            response = Response.json(
                429, {"error": "too many batches for this token; send one a minute"}
            )
            response.headers["Retry-After"] = "10"
            return response
        try:
            payload = json.loads(request.body)
        except (UnicodeDecodeError, ValueError):
            return Response.json(400, {"error": "the body is not JSON"})
        try:
            batch = validate_batch(payload)
        except HeartbeatError as exc:
            return Response.json(
                400, {"error": "invalid batch", "field": exc.field, "why": exc.why}
            )
        stored = store_batch(db, token_id, batch, self.now())
        return Response.json(200, {"batch_id": batch["batch_id"], "stored": stored})


def agent_file(request: Request) -> Response:
    return Response(200, AGENT_FILE.read_bytes(), {"content-type": "text/x-python; charset=utf-8"})
