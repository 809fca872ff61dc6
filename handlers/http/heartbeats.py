"""POST /v1/heartbeats (Bearer agent token) and GET /agent.py. 401 bad token, 400 bad batch
(which field, why), 413 over 1 MiB (the server), 429 when one token floods, 503 while the
cache cannot take writes; a replayed batch_id is answered 200 and stored once.

Runs on the event loop. Valid batches wait in a queue that is written in one transaction
at most GROUP_WAIT_S later (group commit), so thousands of batches a second cost a few
hundred commits. A busy cache (a billing load holding the write lock) never blocks the
loop: the write is retried, and the queue, bounded, answers 503 when full.

Logging: no line per batch. What the endpoint answered is counted and logged as one line
at most once a minute (batches stored, replays, refusals by status), and nothing while no
batch arrives."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import orjson

from finops_bot.agent import finops_agent
from finops_bot.gpu.fleet import FleetRules
from finops_bot.gpu.heartbeat import (
    HeartbeatError,
    NotYours,
    check_clock,
    store_batches,
    validate_batch,
)
from finops_bot.gpu.tokens import verify_token
from finops_bot.store import connect
from handlers.http.routing import Request, Response

log = logging.getLogger("finops_bot.heartbeats")
AGENT_FILE = Path(finops_agent.__file__)
GROUP_WAIT_S = 0.002  # a group gathers this long: bigger, cheaper commits under load
BUSY_RETRY_S = 0.02
MAX_GROUP = 500  # batches per transaction; a long queue is written over several loop turns
COUNT_EVERY_S = 60.0  # one counter line per minute, never one per batch


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


class _CacheUnavailable(Exception):
    pass


class AnswerCounts:
    """The endpoint's answers by status, logged as one line per ``every_s`` while batches
    arrive. Used on the event loop only (after the server stopped, ``log`` may be called
    from any thread)."""

    def __init__(self, every_s: float = COUNT_EVERY_S):
        self.every_s = every_s
        self.statuses: Counter[int] = Counter()
        self.replays = 0  # answered 200 without storing anything new: a batch seen before
        self._since = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, status: int) -> None:
        self.statuses[status] += 1
        if self._timer is None:  # the first answer since the last line opens the window
            self._since = time.monotonic()
            self._timer = asyncio.get_running_loop().call_later(
                self.every_s, self.log, self.every_s
            )

    def log(self, seconds: float | None = None) -> None:
        """One line for the answers since the window opened (``seconds``: its length; by
        default, the time since then)."""
        self._timer = None
        statuses, self.statuses = self.statuses, Counter()
        replays, self.replays = self.replays, 0
        seconds = time.monotonic() - self._since if seconds is None else seconds
        if not statuses:
            return
        refused = sorted((s, n) for s, n in statuses.items() if s != 200)
        by_status = ", ".join(f"{status}: {n}" for status, n in refused)
        log.info(
            "heartbeats, last %.0f s: %d stored, %d replays, %d refused%s",
            min(seconds, self.every_s),
            statuses[200] - replays,
            replays,
            sum(n for _, n in refused),
            f" ({by_status})" if refused else "",
        )


class HeartbeatsRoute:
    def __init__(
        self,
        db_path: Path,
        now: Callable[[], datetime],
        rate: float = 100.0,
        burst: int = 500,
        max_queue: int = 20_000,
        rules: FleetRules | None = None,
        on_write: Callable[[BaseException | None], None] | None = None,
        count_every_s: float = COUNT_EVERY_S,
    ):
        """``on_write``: told of each group's outcome (None when stored), for /healthz;
        ``count_every_s``: how often the answers are logged (one line)."""
        self.counts = AnswerCounts(count_every_s)
        self.db_path = db_path
        self.on_write = on_write or (lambda error: None)
        self.now = now
        self.limit = TokenBucket(rate, burst)
        self.max_queue = max_queue
        self.rules = rules or FleetRules()
        self.idle_util = self.rules.idle_util
        self._cache = None  # opened on the event loop's thread and used only there
        self._queue: list[tuple[int, dict, asyncio.Future]] = []
        self._flush_pending = False

    def _db(self):
        if self._cache is None:
            # serve migrated the cache at start: nothing here may wait for the write lock
            self._cache = connect(self.db_path, migrate=False)
            self._cache.execute("PRAGMA busy_timeout=0")  # the loop never waits: it retries
        return self._cache

    async def __call__(self, request: Request) -> Response:
        try:
            response = await self._handle(request)
        except Exception:
            self.counts.add(500)
            raise
        self.counts.add(response.status)
        return response

    async def _handle(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return Response.json(401, {"error": "send Authorization: Bearer <agent token>"})
        try:
            token_id = verify_token(self._db(), auth[7:].strip())
        except sqlite3.Error as exc:
            return _unavailable(f"the cache cannot be read ({exc})")
        if token_id is None:
            return Response.json(401, {"error": "unknown or revoked agent token"})
        if not self.limit.allow(token_id, time.monotonic()):
            response = Response.json(
                429, {"error": "too many batches for this token; send one a minute"}
            )
            response.headers["Retry-After"] = "10"
            return response
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return Response.json(400, {"error": "the body is not JSON"})
        try:
            batch = validate_batch(payload)
            rules = self.rules
            check_clock(batch, self.now(), rules.max_batch_age_hours, rules.max_clock_ahead_minutes)
        except HeartbeatError as exc:
            return Response.json(
                400, {"error": "invalid batch", "field": exc.field, "why": exc.why}
            )
        if len(self._queue) >= self.max_queue:
            return _unavailable(f"{len(self._queue)} batches are waiting to be stored")
        future = asyncio.get_running_loop().create_future()
        self._queue.append((token_id, batch, future))
        self._schedule_flush(GROUP_WAIT_S)
        try:
            stored = await future
        except _CacheUnavailable as exc:
            return _unavailable(str(exc))
        except _Refused as exc:
            return Response.json(
                400, {"error": "invalid batch", "field": "(body)", "why": str(exc)}
            )
        if isinstance(stored, NotYours):
            return Response.json(403, {"error": "not your node", "why": stored.why})
        self.counts.replays += not stored
        return Response.json(200, {"batch_id": batch["batch_id"], "stored": stored})

    # Group commit on the loop: whatever queued within GROUP_WAIT_S is written in one go.

    def _schedule_flush(self, delay: float) -> None:
        if self._flush_pending:
            return
        self._flush_pending = True
        loop = asyncio.get_running_loop()
        if delay:
            loop.call_later(delay, self._flush)
        else:
            loop.call_soon(self._flush)  # after this turn's requests have queued theirs

    def _flush(self) -> None:
        self._flush_pending = False
        group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        if not group:
            return
        try:
            self._store(group)
        except _Busy:  # another writer (a billing load, the pruning job) holds the cache
            self._queue[:0] = group
            self._schedule_flush(BUSY_RETRY_S)
            return
        except Exception as exc:  # noqa: BLE001 - every waiting request gets an answer
            self.on_write(exc)
            if len(group) == 1:
                log.error("could not store a heartbeat batch: %s", exc)
                _answer(group[0][2], exc=exc)
            else:  # one bad batch must not fail the others: store them one by one
                for one in group:
                    try:
                        self._store([one])
                    except Exception as single:  # noqa: BLE001 - busy included: answer 503
                        log.error("could not store a heartbeat batch: %s", single)
                        _answer(one[2], exc=single)
        if self._queue:
            self._schedule_flush(0)

    def _store(self, group: list[tuple[int, dict, asyncio.Future]]) -> None:
        items = [(token_id, batch) for token_id, batch, _ in group]
        try:
            results = store_batches(self._db(), items, self.now(), self.idle_util)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise _Busy from exc
            raise
        self.on_write(None)
        for (_, _, future), stored in zip(group, results, strict=True):
            _answer(future, stored=stored)


class _Busy(Exception):
    pass


class _Refused(Exception):
    """SQLite will never store this batch: answered 400, so the agent drops it instead of
    retrying it forever."""


def _transient(exc: Exception) -> bool:
    """A busy, locked or full cache, a disk error: worth retrying later."""
    return isinstance(exc, sqlite3.OperationalError | _Busy | OSError)


def _answer(future: asyncio.Future, stored: bool = False, exc: Exception | None = None) -> None:
    if future.done():  # the client went away
        return
    if exc is None:
        future.set_result(stored)
    elif _transient(exc):
        future.set_exception(_CacheUnavailable(f"the cache could not store the batch ({exc})"))
    else:
        future.set_exception(_Refused(f"the cache refused this batch ({exc})"))


def _unavailable(why: str) -> Response:
    response = Response.json(503, {"error": f"{why}; retry later"})
    response.headers["Retry-After"] = "5"
    return response


def agent_file(request: Request) -> Response:
    return Response(200, AGENT_FILE.read_bytes(), {"content-type": "text/x-python; charset=utf-8"})
