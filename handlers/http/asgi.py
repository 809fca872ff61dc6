"""The router as an ASGI application: reads the body under a limit (413 above it), runs
async handlers on the event loop and plain ones on a thread pool, turns any exception
into a 500 so the process stays up."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from typing import Any

from handlers.http.routing import Request, Response, Router

log = logging.getLogger("finops_bot.http")
MAX_BODY = 1 << 20  # 1 MiB
DRAIN_LIMIT = 16 << 20  # read (and drop) up to this much so the client sees the 413


class AsgiApp:
    def __init__(self, router: Router, executor: Executor, max_body: int = MAX_BODY):
        self.router = router
        self.executor = executor
        self.max_body = max_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        response = await self._respond(scope, headers, receive)
        raw = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.items()
            if k.lower() != "content-length"
        ]
        raw.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": raw})
        await send({"type": "http.response.body", "body": response.body})

    async def _respond(self, scope: dict, headers: dict[str, str], receive: Any) -> Response:
        try:
            declared = int(headers.get("content-length") or 0)
        except ValueError:
            return _closing(Response.json(400, {"error": "bad Content-Length"}))
        body, too_big = await self._body(receive, declared)
        if body is None:  # the client went away mid-body: nothing runs
            return _closing(Response.json(400, {"error": "incomplete body"}))
        if too_big:
            return _closing(Response.json(413, {"error": f"body over {self.max_body} bytes"}))
        request = Request(
            scope["method"], scope["path"], scope["query_string"].decode("latin-1"), headers, body
        )
        route = self.router.resolve(request.method, request.path)
        try:
            if route.is_async:
                return await route.handler(request)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, route.handler, request)
        except Exception:
            log.exception("error serving %s %s", request.method, request.path)
            return Response.json(500, {"error": "internal error"})

    async def _body(self, receive: Any, declared: int) -> tuple[bytes | None, bool]:
        """(body, too big); body None when the client disconnected before the end."""
        if declared > DRAIN_LIMIT:
            return b"", True
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect
                return None, False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= self.max_body:
                chunks.append(chunk)
            elif size > DRAIN_LIMIT:
                break
            more = message.get("more_body", False)
        if size > self.max_body or declared > self.max_body:
            return b"", True
        return b"".join(chunks), False


def _closing(response: Response) -> Response:
    response.headers["connection"] = "close"
    return response
