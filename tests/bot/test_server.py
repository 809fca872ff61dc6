"""The HTTP server (uvicorn + the router as ASGI) over real loopback HTTP: routing errors,
body limits, handler failures and a slow handler next to the event loop."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time

import pytest

from bot.server import start_server
from finops_bot.errors import FinopsError
from handlers.http.routing import Request, Response, Router


async def quick(request: Request) -> Response:
    return Response.json(200, {"bytes": len(request.body), "query": request.query})


async def broken_async(request: Request) -> Response:
    raise RuntimeError("boom")


def broken_sync(request: Request) -> Response:
    raise RuntimeError("boom")


def slow(request: Request) -> Response:
    time.sleep(1.0)
    return Response.json(200, {"slow": True})


@pytest.fixture
def server():
    router = Router()
    router.add("POST", "/quick", quick)
    router.add("GET", "/slow", slow)
    router.add("GET", "/broken-sync", broken_sync)
    router.add("GET", "/broken-async", broken_async)
    srv, _ = start_server("127.0.0.1", 0, router)
    yield srv.server_address[1]
    srv.shutdown()


def call(port: int, method: str, path: str, body=None, headers=None, chunked=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data or b"{}"), resp


def test_routes_and_routing_errors(server):
    assert call(server, "POST", "/quick?x=1", b"abc")[:2] == (200, {"bytes": 3, "query": "x=1"})
    assert call(server, "GET", "/nowhere")[:2] == (404, {"error": "no route /nowhere"})
    assert call(server, "GET", "/quick")[:2] == (405, {"error": "use POST on /quick"})


@pytest.mark.parametrize("path", ["/broken-sync", "/broken-async"])
def test_a_failing_handler_is_a_500_and_the_server_stays_up(server, path):
    assert call(server, "GET", path)[:2] == (500, {"error": "internal error"})
    assert call(server, "POST", "/quick", b"")[0] == 200


def test_bodies_over_1_mib_are_413_with_or_without_a_length(server):
    big = b"x" * ((1 << 20) + 1)
    status, payload, resp = call(server, "POST", "/quick", big)
    assert status == 413 and resp.getheader("connection") == "close"
    chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))
    assert call(server, "POST", "/quick", chunks, chunked=True)[0] == 413
    assert call(server, "POST", "/quick", [b"ab", b"cd"], chunked=True)[1]["bytes"] == 4


def test_a_bad_content_length_is_refused(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as s:
        s.sendall(b"POST /quick HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n")
        assert s.recv(200).startswith(b"HTTP/1.1 400")


def test_a_slow_handler_does_not_hold_up_the_event_loop(server):
    done = threading.Event()
    threading.Thread(target=lambda: (call(server, "GET", "/slow"), done.set())).start()
    time.sleep(0.1)
    began = time.monotonic()
    assert call(server, "POST", "/quick", b"")[0] == 200
    assert time.monotonic() - began < 0.5 and not done.is_set()
    assert done.wait(5)


def test_a_port_in_use_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(FinopsError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            start_server("127.0.0.1", port, Router())


def test_async_handlers_run_on_the_loop_and_plain_ones_on_threads():
    router = Router()
    router.add("GET", "/a", quick)
    router.add("GET", "/s", slow)
    assert router.resolve("GET", "/a").is_async and not router.resolve("GET", "/s").is_async
    assert asyncio.iscoroutinefunction(router.resolve("GET", "/a").handler)


def test_a_client_that_leaves_mid_body_runs_nothing():
    seen = []

    async def record(request: Request) -> Response:
        seen.append(request.body)
        return Response.json(200, {})

    router = Router()
    router.add("POST", "/record", record)
    srv, _ = start_server("127.0.0.1", 0, router)
    try:
        with socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=5) as s:
            s.sendall(b"POST /record HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        time.sleep(0.3)
        assert call(srv.server_address[1], "POST", "/record", b"whole")[0] == 200
        assert seen == [b"whole"]
    finally:
        srv.shutdown()
