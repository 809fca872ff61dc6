"""The HTTP server: uvicorn (httptools, uvloop where installed) on a background thread,
serving the router as an ASGI app: /healthz, /v1/heartbeats, /agent.py and, in HTTP mode,
/slack/events. Heartbeats are handled on the event loop; everything else on a thread pool."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import uvicorn

from finops_bot.errors import FinopsError
from handlers.http.asgi import AsgiApp
from handlers.http.routing import Router

WORKER_THREADS = 32  # Slack requests and health checks in flight at once


def _listen(host: str, port: int) -> socket.socket:
    sock = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        if sock is not None:
            sock.close()
        raise FinopsError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "choose another --host / --port (FINOPS_BOT_HOST / FINOPS_BOT_PORT)"
        ) from None
    sock.setblocking(False)
    return sock


class HttpServer:
    def __init__(self, host: str, port: int, router: Router):
        self._sock = _listen(host, port)
        self.server_address = self._sock.getsockname()
        self._executor = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="finops-http")
        config = uvicorn.Config(
            AsgiApp(router, self._executor),
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=30,
            backlog=2048,
        )
        self._uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [self._sock]}, name="finops-http"
        )
        self.thread.daemon = True

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise FinopsError("the HTTP server did not start; see the log above")
            time.sleep(0.01)

    def shutdown(self) -> None:
        self._uvicorn.should_exit = True
        self.thread.join(timeout=10)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._sock.close()


def start_server(host: str, port: int, router: Router) -> tuple[HttpServer, threading.Thread]:
    """Bind (port 0 = any free port) and serve in a background thread."""
    server = HttpServer(host, port, router)
    server.start()
    return server, server.thread
