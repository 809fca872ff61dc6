"""A request, a response, a router: just enough HTTP for our few routes."""

from __future__ import annotations

import json
from collections.abc import Callable
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


Handler = Callable[[Request], Response]


class Router:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}

    def add(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def handle(self, request: Request) -> Response:
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            allowed = [m for m, p in self.routes if p == request.path]
            if allowed:
                return Response.json(405, {"error": f"use {', '.join(allowed)} on {request.path}"})
            return Response.json(404, {"error": f"no route {request.path}"})
        return handler(request)
