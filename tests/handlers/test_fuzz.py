"""Fuzzing the endpoints over real HTTP on loopback (bounded and derandomized, so CI stays
fast and a failure repeats): heartbeat batches with a mutated field, Slack requests with
random bytes in every header and the body (unsigned and signed), and questions with random
dates and unicode through /finops. Each case: the response class is 2xx or 4xx, never 5xx;
afterwards what is stored still reads back (the fleet, the heartbeat ranges)."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_bot.gpu.fleet import fleet, idle_cost
from tests.handlers.test_heartbeats import Bot, mutate
from tests.handlers.test_slack_scenarios import SECRET, Slack

CASES = {"heartbeats": 400, "slack_headers": 300, "slack_signed": 200, "questions": 200}
BOUNDED = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "batch_id",
    "sent_at",
    "progress",
    "node.hostname",
    "node.instance_id",
    "node.provider",
    "node.spot",
    "labels.project",
    "labels.checkpoints",
    "window.start",
    "window.end",
    "window.samples",
    "gpus.0.index",
    "gpus.0.state",
    "gpus.0.util.max",
    "gpus.0.temp_c",
    "gpus.0.mem_total_mb",
    "gpus.0.mem_used_mb.max",
    "gpus.0.power_w.mean",
    "gpus.0.processes",
    "gpus",
    "window",
    "node",
]


@pytest.fixture(scope="module")
def heartbeats(tmp_path_factory):
    bot = Bot(tmp_path_factory.mktemp("fuzz") / "hb.db", rate=1e6, burst=10**6)
    yield bot
    bot.server.shutdown()


@settings(max_examples=CASES["heartbeats"], **BOUNDED)
@given(
    path=st.sampled_from(FIELDS),
    value=JSON | st.just(KeyError),
    n=st.integers(min_value=0, max_value=10**9),
)
def test_mutated_heartbeats_are_2xx_or_4xx_and_the_fleet_still_reads(heartbeats, path, value, n):
    batch = mutate(path, value)  # KeyError: the field removed
    if path != "batch_id":
        batch["batch_id"] = f"fuzz-{n}"
    try:
        status, body = heartbeats.post(batch)
    except (TypeError, ValueError):  # json.dumps refused the mutant: send its repr instead
        status, body = heartbeats.post(None, raw=repr(batch).encode())
    assert 200 <= status < 500, (status, body, path, value)
    db = heartbeats.db
    now = heartbeats.route.now()
    fleet(db, now, rules=heartbeats.route.rules)
    idle_cost(db, now.replace(hour=0), now, rules=heartbeats.route.rules)
    bad = db.execute(
        "SELECT COUNT(*) FROM gpu_minutes WHERE minute < '2000' OR minute >= '2100' "
        "OR util_max < 0 OR util_max > 100"
    ).fetchone()[0]
    assert bad == 0


@pytest.fixture(scope="module")
def slack(tmp_path_factory):
    from finops_bot.demo import load_demo
    from finops_bot.ingest.tags import TagRules
    from finops_bot.store import connect
    from tests.conftest import NOW, TODAY

    path = tmp_path_factory.mktemp("fuzz") / "demo.db"
    db = connect(path)
    load_demo(db, TODAY, NOW, TagRules({"project": ("project",), "team": ("team",)}))
    db.close()
    s = Slack(path)
    yield s
    s.close()


def _raw_post(port: int, headers: list[tuple[bytes, bytes]], body: bytes) -> int | None:
    """A request whose header bytes are exactly these (http.client would refuse many);
    the status, or None when the server closed the connection (a protocol error)."""
    lines = [b"POST /slack/events HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers]
    lines += [b"Content-Length: " + str(len(body)).encode(), b"Connection: close", b"", b""]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\r\n".join(lines) + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if not data.startswith(b"HTTP/1.1 "):
        return None
    return int(data[9:12])


HEADER_BYTES = st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@settings(max_examples=CASES["slack_headers"], **BOUNDED)
@given(
    signature=HEADER_BYTES,
    timestamp=HEADER_BYTES | st.integers(-(2**70), 2**70).map(lambda i: str(i).encode()),
    content_type=HEADER_BYTES
    | st.sampled_from([b"application/json", b"application/x-www-form-urlencoded"]),
    body=st.binary(max_size=300),
)
def test_random_bytes_in_every_header_are_401_or_400_never_500(
    slack, signature, timestamp, content_type, body
):
    headers = [
        (b"X-Slack-Signature", signature),
        (b"X-Slack-Request-Timestamp", timestamp),
        (b"Content-Type", content_type),
    ]
    status = _raw_post(slack.port, headers, body)
    assert status is None or 400 <= status < 500, status


def _sign(body: bytes, timestamp: str) -> bytes:
    base = b"v0:" + timestamp.encode() + b":" + body
    return b"v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest().encode()


@settings(max_examples=CASES["slack_signed"], **BOUNDED)
@given(
    body=st.binary(max_size=300)
    | JSON.map(lambda v: __import__("json").dumps({"type": "event_callback", "event": v}).encode())
    | JSON.map(lambda v: urlencode({"payload": __import__("json").dumps(v)}).encode()),
    content_type=st.sampled_from([b"application/json", b"application/x-www-form-urlencoded"]),
)
def test_signed_but_malformed_bodies_are_2xx_or_4xx(slack, body, content_type):
    timestamp = str(int(time.time()))
    headers = [
        (b"X-Slack-Signature", _sign(body, timestamp)),
        (b"X-Slack-Request-Timestamp", timestamp.encode()),
        (b"Content-Type", content_type),
    ]
    status = _raw_post(slack.port, headers, body)
    assert status is not None and 200 <= status < 500, status


DATES = st.builds(
    lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}",
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
)
WORDS = st.sampled_from(
    ["since", "in", "between", "and", "top", "by", "compare", "project", "team", "cost", "last"]
)
QUESTION = st.lists(WORDS | DATES | st.text(max_size=12), min_size=1, max_size=8).map(" ".join)


@settings(max_examples=CASES["questions"], **BOUNDED)
@given(question=QUESTION)
def test_questions_with_random_dates_and_unicode_get_an_answer(slack, question):
    status, body = slack.command(question)
    assert status == 200, (status, body)
    assert isinstance(body, dict) and body.get("text"), body
    assert "Sorry, something went wrong" not in body["text"], question
