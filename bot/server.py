"""The HTTP server: threads, keep-alive, a body limit, one router. Serves /healthz and,
in HTTP mode, /slack/events (later also /v1/heartbeats)."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from handlers.http.routing import Request, Response, Router

log = logging.getLogger("finops_bot.http")
MAX_BODY = 1 << 20  # 1 MiB
DRAIN_LIMIT = 16 << 20


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body leave in one write, and without Nagle: otherwise a keep-alive client's
    # delayed ACK stalls every response by ~40 ms
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        length_text = self.headers.get("content-length") or "0"
        try:
            length = int(length_text)
        except ValueError:
            return self._send(Response.json(400, {"error": "bad Content-Length"}))
        if length > MAX_BODY:
            self.close_connection = True
            if length <= DRAIN_LIMIT:  # read it so the client sees the 413, not a reset
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 16))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            return self._send(Response.json(413, {"error": f"body over {MAX_BODY} bytes"}))
        body = self.rfile.read(length) if length else b""
        request = Request(
            self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body
        )
        try:
            response = self.server.router.handle(request)
        except Exception:  # the process stays up; the caller gets a 500
            log.exception("error serving %s %s", self.command, path)
            response = Response.json(500, {"error": "internal error"})
        self._send(response)

    do_GET = do_POST = _serve

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib name
        log.debug("%s - %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], router: Router):
        super().__init__(address, _Handler)
        self.router = router


def start_server(host: str, port: int, router: Router) -> tuple[_Server, threading.Thread]:
    """Bind (port 0 = any free port) and serve in a background thread."""
    server = _Server((host, port), router)
    thread = threading.Thread(target=server.serve_forever, name="finops-http", daemon=True)
    thread.start()
    return server, thread
