"""A request, a response, a router: just enough HTTP for our few routes. A handler is a
plain function (run on a worker thread) or a coroutine function (run on the event loop:
only for handlers that never block)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: dict) -> Response:
        return cls(status, json.dumps(payload).encode(), {"content-type": "application/json"})


Handler = Callable[[Request], Response] | Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    handler: Handler
    is_async: bool


def _is_async(handler: Handler) -> bool:
    call = handler.__call__ if not inspect.isfunction(handler) else handler  # a route object
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


class Router:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}

    def add(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = Route(handler, _is_async(handler))

    def resolve(self, method: str, path: str) -> Route:
        """The route for ``method path``, or one answering 404 / 405."""
        route = self.routes.get((method, path))
        if route is not None:
            return route
        allowed = [m for m, p in self.routes if p == path]
        if allowed:
            error = Response.json(405, {"error": f"use {', '.join(allowed)} on {path}"})
        else:
            error = Response.json(404, {"error": f"no route {path}"})
        return Route(lambda request: error, False)
