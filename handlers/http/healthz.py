"""GET /healthz: 200 when the cache is readable, its last quick_check passed, no writer has
failed since its last success (and Socket Mode is connected); else 503."""

from __future__ import annotations

from collections.abc import Callable

from handlers.http.routing import Request, Response


def healthz(
    health: Callable[[], tuple[bool, str]],
    socket_connected: Callable[[], bool] | None,
    cache_checks: Callable[[], tuple[bool, dict]] | None = None,
) -> Callable[[Request], Response]:
    def handle(request: Request) -> Response:
        ok, cache = health()
        payload: dict = {"cache": cache, "mode": "socket" if socket_connected else "http"}
        if cache_checks is not None:
            checks_ok, checks = cache_checks()
            payload.update(checks)
            ok = ok and checks_ok
        if socket_connected is not None:
            connected = bool(socket_connected())
            payload["socket_mode_connected"] = connected
            ok = ok and connected
        payload["ok"] = ok
        return Response.json(200 if ok else 503, payload)

    return handle
