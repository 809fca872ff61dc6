"""A fake Slack Web API on 127.0.0.1 (port 0) that records every call, in the spirit of
bolt-python's tests/mock_web_api_server. Also receives response_url posts."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.forced: dict[str, list[tuple[int, dict, dict]]] = {}  # path → queued responses
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                if self.headers.get("content-type", "").startswith("application/json"):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                    for key in ("blocks",):
                        if isinstance(body.get(key), str):
                            body[key] = json.loads(body[key])
                with fake._lock:
                    fake.calls.append(
                        {"path": self.path, "body": body, "auth": self.headers.get("authorization")}
                    )
                    queued = fake.forced.get(self.path)
                    forced = queued.pop(0) if queued else None
                status, headers, payload = forced or (200, {}, {"ok": True, "ts": "1700.0001"})
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def force(self, path: str, status: int, payload: dict, headers: dict | None = None) -> None:
        self.forced.setdefault(path, []).append((status, headers or {}, payload))

    def wait_for(self, path: str, count: int = 1, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [c for c in self.calls if c["path"] == path]
            if len(hits) >= count:
                return hits
            time.sleep(0.01)
        raise AssertionError(
            f"{path} called {len([c for c in self.calls if c['path'] == path])}"
            f" times, wanted {count}; calls: {[c['path'] for c in self.calls]}"
        )

    def stop(self) -> None:
        self.server.shutdown()
