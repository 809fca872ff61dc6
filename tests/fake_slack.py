"""A fake Slack Web API on 127.0.0.1 (port 0) that records every call, in the spirit of
bolt-python's tests/mock_web_api_server. Also receives response_url posts, and file uploads
the way files_upload_v2 makes them: files.getUploadURLExternal (an upload_url on this server
and a file id), the POST of the bytes to that URL, files.completeUploadExternal."""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

UPLOAD = "/upload/v1/"


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.forced: dict[str, list[tuple[int, dict, dict]]] = {}  # path → queued responses
        self.uploads: dict[str, bytes] = {}  # file id → the bytes posted to its upload_url
        self.completed: list[dict] = []  # files.completeUploadExternal bodies (files parsed)
        self.answers: dict[str, object] = {}  # path → body → the payload to answer with
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path.startswith(UPLOAD):
                    status, headers, payload = fake._upload(self.path, raw)
                else:
                    status, headers, payload = fake._api(self.path, raw, self.headers)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "content-type" not in headers:
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

    def _api(self, path: str, raw: bytes, headers) -> tuple[int, dict, dict | bytes]:
        text = raw.decode()
        if headers.get("content-type", "").startswith("application/json"):
            body = json.loads(text or "{}")
        else:
            body = {k: v[0] for k, v in parse_qs(text).items()}
            for key in ("blocks", "files"):
                if isinstance(body.get(key), str):
                    body[key] = json.loads(body[key])
        with self._lock:
            self.calls.append({"path": path, "body": body, "auth": headers.get("authorization")})
            queued = self.forced.get(path)
            forced = queued.pop(0) if queued else None
            if forced:
                return forced
            if path in self.answers:
                return 200, {}, self.answers[path](body)
            if path == "/api/files.getUploadURLExternal":
                file_id = f"F{next(self._ids):06d}"
                url = f"{self.url}{UPLOAD}{file_id}"
                return 200, {}, {"ok": True, "upload_url": url, "file_id": file_id}
            if path == "/api/files.completeUploadExternal":
                self.completed.append(body)
                files = [
                    {"id": f["id"], "title": f.get("title"), "mimetype": "image/png"}
                    for f in body.get("files", [])
                ]
                return 200, {}, {"ok": True, "files": files}
        return 200, {}, {"ok": True, "ts": "1700.0001"}

    def _upload(self, path: str, raw: bytes) -> tuple[int, dict, bytes]:
        file_id = path[len(UPLOAD) :]
        with self._lock:
            self.calls.append({"path": UPLOAD, "body": {"file_id": file_id, "bytes": len(raw)}})
            queued = self.forced.get(UPLOAD)
            forced = queued.pop(0) if queued else None
            if forced:
                status, headers, payload = forced
                data = json.dumps(payload).encode()
                return status, {"content-type": "text/plain", **headers}, data
            self.uploads[file_id] = raw
        return 200, {"content-type": "text/plain"}, f"OK - {len(raw)}".encode()

    def force(self, path: str, status: int, payload: dict, headers: dict | None = None) -> None:
        """The next call to ``path`` gets this response (``UPLOAD`` for the upload POST)."""
        self.forced.setdefault(path, []).append((status, headers or {}, payload))

    def paths(self) -> list[str]:
        return [c["path"] for c in self.calls]

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
