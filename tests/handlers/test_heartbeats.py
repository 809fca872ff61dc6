"""POST /v1/heartbeats over real HTTP on loopback: good batches, every bad input, replays,
floods, 413; GET /agent.py; retention; and the agent sending into it end to end."""

from __future__ import annotations

import copy
import http.client
import json
import sqlite3
import sys
import threading
import time
from datetime import timedelta

import pytest

from bot.server import start_server
from finops_bot.agent import finops_agent
from finops_bot.gpu.heartbeat import prune
from finops_bot.gpu.tokens import create_token, revoke_token
from finops_bot.store import connect
from handlers.http.heartbeats import HeartbeatsRoute
from handlers.http.routing import Router
from tests import fake_nvml
from tests.conftest import NOW


def good_batch(batch_id: str = "batch-0001", util: float = 1.5) -> dict:
    return {
        "schema": "finops.heartbeat/v1",
        "batch_id": batch_id,
        "sent_at": "2026-11-22T06:01:00Z",
        "agent": {"version": "0.1.0", "dropped_batches": 0},
        "node": {
            "hostname": "gpu-node-1",
            "provider": "aws",
            "instance_id": "i-0abc",
            "instance_type": "p4d.24xlarge",
            "region": "us-east-1",
            "zone": "us-east-1a",
            "spot": False,
        },
        "labels": {"project": "bert-training", "owner": "alice"},
        "progress": 1200,
        "window": {"start": "2026-11-22T06:00:00Z", "end": "2026-11-22T06:01:00Z", "samples": 6},
        "gpus": [
            {
                "index": i,
                "uuid": f"GPU-{i}",
                "name": "NVIDIA A100-SXM4-80GB",
                "state": "ok",
                "util": {"min": 0, "mean": util, "max": 3},
                "mem_total_mb": 81920,
                "mem_used_mb": {"min": 0, "mean": 0, "max": 0},
                "power_w": {"min": 60, "mean": 61, "max": 62},
                "temp_c": {"min": 30, "mean": 31, "max": 32},
                "processes": [],
            }
            for i in range(8)
        ],
    }


class Bot:
    def __init__(self, db_path, rate=10.0, burst=50, max_queue=20_000):
        self.db_path = db_path
        self.db = connect(db_path)
        self.token = create_token(self.db, "training-nodes", NOW)
        router = Router()
        self.route = HeartbeatsRoute(db_path, lambda: NOW, rate, burst, max_queue)
        router.add("POST", "/v1/heartbeats", self.route)
        from handlers.http.heartbeats import agent_file

        router.add("GET", "/agent.py", agent_file)
        self.server, _ = start_server("127.0.0.1", 0, router)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.conn = http.client.HTTPConnection(
            "127.0.0.1", self.server.server_address[1], timeout=10
        )

    def post(self, body, token: str | None = "default", raw: bytes | None = None):
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {self.token if token == 'default' else token}"
        data = raw if raw is not None else json.dumps(body).encode()
        self.conn.request("POST", "/v1/heartbeats", body=data, headers=headers)
        resp = self.conn.getresponse()
        payload = json.loads(resp.read() or b"{}")
        if resp.getheader("connection", "").lower() == "close":
            self.conn.close()
        return resp.status, payload


@pytest.fixture
def bot(db_path):
    b = Bot(db_path)
    yield b
    b.server.shutdown()


def test_a_good_batch_is_stored_once(bot):
    assert bot.post(good_batch()) == (200, {"batch_id": "batch-0001", "stored": True})
    assert bot.post(good_batch()) == (200, {"batch_id": "batch-0001", "stored": False})
    assert bot.db.execute("SELECT COUNT(*) FROM gpu_latest").fetchone()[0] == 8
    assert bot.db.execute("SELECT COUNT(*) FROM gpu_minutes").fetchone()[0] == 8
    row = bot.db.execute(
        "SELECT node, hostname, project, owner, util_mean, instance_type, "
        "progress FROM gpu_latest WHERE gpu = 'GPU-0'"
    ).fetchone()
    assert row == ("i-0abc", "gpu-node-1", "bert-training", "alice", 1.5, "p4d.24xlarge", 1200)


@pytest.mark.parametrize("token", [None, "fbt_not-a-real-token", "xoxb-wrong-kind"])
def test_bad_tokens_are_401(bot, token):
    status, body = bot.post(good_batch(), token=token)
    assert status == 401 and "token" in body["error"]


def test_revoked_token_is_401(bot):
    revoke_token(bot.db, "training-nodes", NOW)
    assert bot.post(good_batch())[0] == 401


def mutate(path: str, value):
    batch = copy.deepcopy(good_batch())
    target = batch
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is KeyError:  # the field removed (absent already: nothing to remove)
        target.pop(int(last) if last.isdigit() else last, None)
    else:
        target[int(last) if last.isdigit() else last] = value
    return batch


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("schema", "finops.heartbeat/v0", "schema"),
        ("batch_id", "x", "batch_id"),
        ("node", KeyError, "node"),
        ("node.hostname", "", "node.hostname"),
        ("node.provider", "oracle", "node.provider"),
        ("node.spot", "yes", "node.spot"),
        ("labels.team", "nlp", "labels"),
        ("progress", -1, "progress"),
        ("window.end", "yesterday", "window.end"),
        ("window.start", "2026-11-22T09:00:00Z", "window"),
        ("window.samples", 0, "window.samples"),
        ("gpus", "many", "gpus"),
        ("gpus.0.index", 99, "gpus[0].index"),
        ("gpus.1.index", 0, "gpus[1].index"),
        ("gpus.0.state", "sleepy", "gpus[0].state"),
        ("gpus.0.util", {"min": 5, "mean": 1, "max": 3}, "gpus[0].util"),
        ("gpus.0.util", {"min": 0, "mean": 150, "max": 150}, "gpus[0].util.mean"),
        ("gpus.0.power_w", {"min": 0, "mean": "lots", "max": 1}, "gpus[0].power_w.mean"),
        ("gpus.0.processes", [{"pid": "x"}], "gpus[0].processes[0].pid"),
    ],
)
def test_malformed_batches_are_400_naming_the_field(bot, path, value, field):
    status, body = bot.post(mutate(path, value))
    assert status == 400 and body["field"] == field and body["why"]
    assert bot.db.execute("SELECT COUNT(*) FROM heartbeat_batches").fetchone()[0] == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"null",
        b"",
        b"[" * 100_000,  # nesting deep enough to break a recursive parser
        b'{"schema": "finops.heartbeat/v1", "batch_id": 1' + b"0" * 5000 + b"}",
        b'{"a": NaN}',
    ],
)
def test_non_json_bodies_are_400(bot, raw):
    assert bot.post(None, raw=raw)[0] == 400


def test_over_1_mib_is_413(bot):
    assert bot.post(None, raw=b"x" * ((1 << 20) + 1))[0] == 413


def test_a_flooding_token_gets_429(db_path):
    b = Bot(db_path, rate=0.01, burst=3)  # a token per 100 s: none refills during the test
    try:
        codes = [b.post(good_batch(f"batch-{i:04d}"))[0] for i in range(6)]
    finally:
        b.server.shutdown()
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429, 429]


def test_agent_py_is_served(bot):
    bot.conn.request("GET", "/agent.py")
    resp = bot.conn.getresponse()
    body = resp.read().decode()
    assert resp.status == 200 and "def main(" in body and "import pynvml" in body


def test_retention_prunes_old_minutes(bot):
    bot.post(good_batch())
    assert prune(bot.db, NOW + timedelta(days=13)) == 0
    assert prune(bot.db, NOW + timedelta(days=15)) == 8
    assert bot.db.execute("SELECT COUNT(*) FROM heartbeat_batches").fetchone()[0] == 0


def test_the_agent_sends_into_the_endpoint(bot, monkeypatch, tmp_path):
    monkeypatch.setitem(
        sys.modules,
        "pynvml",
        fake_nvml.make(
            [
                fake_nvml.a100(i, util=0 if i else 88, procs=[(7, 2048)] if i == 1 else [])
                for i in range(8)
            ]
        ),
    )
    from datetime import UTC, datetime

    bot.route.now = lambda: datetime.now(UTC)  # the agent stamps its windows with real time
    token_file = tmp_path / "token"
    token_file.write_text(bot.token + "\n")
    env = {"FINOPS_AGENT_NO_METADATA": "1", "FINOPS_PROJECT": "llm-finetune"}
    assert (
        finops_agent.main(["--once", "--url", bot.url, "--token-file", str(token_file)], env) == 0
    )
    rows = bot.db.execute(
        "SELECT gpu_index, util_mean, processes, project FROM gpu_latest ORDER BY gpu_index"
    ).fetchall()
    assert len(rows) == 8 and rows[0][1] == 88.0 and rows[1][2] == 1
    assert {r[3] for r in rows} == {"llm-finetune"}


def _post_on_new_connection(bot, batch):
    conn = http.client.HTTPConnection("127.0.0.1", bot.server.server_address[1], timeout=10)
    conn.request(
        "POST",
        "/v1/heartbeats",
        body=json.dumps(batch).encode(),
        headers={"authorization": f"Bearer {bot.token}"},
    )
    resp = conn.getresponse()
    result = resp.status, json.loads(resp.read()), resp.getheader("retry-after")
    conn.close()
    return result


def test_concurrent_batches_are_committed_together_and_each_answered(bot):
    results = []

    def post(batch_id: str) -> None:
        results.append(_post_on_new_connection(bot, good_batch(batch_id)))

    ids = [f"b-{i:06d}" for i in range(40)] + ["b-000000"]  # a replay inside the group
    threads = [threading.Thread(target=post, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0] for r in results] == [200] * 41
    assert sum(r[1]["stored"] for r in results) == 40
    assert bot.db.execute("SELECT COUNT(*) FROM heartbeat_batches").fetchone()[0] == 40


def _until_queued(bot, n: int) -> None:
    """Wait (up to 10 s, for a slow CI machine) until ``n`` batches wait in the queue."""
    deadline = time.monotonic() + 10
    while len(bot.route._queue) < n:
        assert time.monotonic() < deadline, "the batch never reached the queue"
        time.sleep(0.01)


def test_a_busy_cache_delays_the_answer_and_loses_nothing(bot, db_path):
    blocker = sqlite3.connect(db_path)
    blocker.execute("BEGIN IMMEDIATE")  # as a billing load holding the write lock
    answer = {}
    waiting = threading.Thread(target=lambda: answer.update(r=bot.post(good_batch())))
    waiting.start()
    _until_queued(bot, 1)
    time.sleep(0.1)  # a few retries of the write
    assert waiting.is_alive() and not answer  # queued, not failed
    blocker.rollback()
    waiting.join(5)
    assert answer["r"] == (200, {"batch_id": "batch-0001", "stored": True})
    assert bot.db.execute("SELECT COUNT(*) FROM gpu_minutes").fetchone()[0] == 8


def test_a_full_queue_answers_503_with_retry_after(db_path):
    b = Bot(db_path, max_queue=1)
    blocker = sqlite3.connect(db_path)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        first = threading.Thread(
            target=_post_on_new_connection, args=(b, good_batch("batch-first"))
        )
        first.start()
        _until_queued(b, 1)
        status, payload, retry_after = _post_on_new_connection(b, good_batch("batch-second"))
        assert status == 503 and retry_after == "5"
        assert "waiting to be stored" in payload["error"] and "retry later" in payload["error"]
    finally:
        blocker.rollback()
        first.join(5)
        b.server.shutdown()
    assert b.db.execute("SELECT batch_id FROM heartbeat_batches").fetchall() == [("batch-first",)]


def test_a_failing_cache_is_a_503_and_the_next_batch_is_stored(bot, monkeypatch):
    import handlers.http.heartbeats as route

    def disk_error(*args):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(route, "store_batches", disk_error)
    status, payload = bot.post(good_batch())
    assert status == 503 and "disk I/O error" in payload["error"]
    monkeypatch.undo()
    assert bot.post(good_batch())[1]["stored"] is True


def test_one_batch_that_cannot_be_stored_does_not_fail_its_group(bot, monkeypatch):
    import handlers.http.heartbeats as route

    real = route.store_batches

    def refuse_one(db, items, now, idle_util):
        if any(batch["batch_id"] == "b-poison" for _, batch in items):
            raise sqlite3.IntegrityError("a value SQLite refuses")
        return real(db, items, now, idle_util)

    monkeypatch.setattr(route, "store_batches", refuse_one)
    results = {}

    def post(batch_id: str) -> None:
        results[batch_id] = _post_on_new_connection(bot, good_batch(batch_id))[:2]

    ids = ["b-poison"] + [f"b-{i:06d}" for i in range(20)]
    threads = [threading.Thread(target=post, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.pop("b-poison")[0] == 400  # never "retry later" for what will always fail
    assert {status for status, _ in results.values()} == {200}
    assert bot.db.execute("SELECT COUNT(*) FROM heartbeat_batches").fetchone()[0] == 20


def _at_time(batch_id: str, end: str, start: str | None = None) -> dict:
    batch = good_batch(batch_id)
    batch["window"]["end"] = end
    batch["window"]["start"] = start or end
    return batch


@pytest.mark.parametrize(
    ("end", "why"),
    [
        ("2099-01-01T00:00:00Z", "ahead; check NTP"),
        ("2026-11-22T06:20:00Z", "20 minutes ahead; check NTP"),
        ("0001-01-01T00:00:00Z", "old"),
        ("9999-12-31T23:59:59Z", "ahead; check NTP"),
        ("2026-11-20T06:00:00Z", "older than 24 h"),
    ],
)
def test_windows_outside_reason_are_refused_naming_the_clock(bot, end, why):
    status, body = bot.post(_at_time("batch-clock1", end))
    assert status == 400 and body["field"] == "window.end" and why in body["why"]
    assert bot.db.execute("SELECT COUNT(*) FROM gpu_minutes").fetchone()[0] == 0


def test_offsets_are_stored_in_utc(bot):
    from finops_bot.gpu.fleet import fleet

    assert bot.post(_at_time("batch-plus5", "2026-11-22T11:01:00+05:00"))[0] == 200
    minute, end = bot.db.execute(
        "SELECT minute, window_end FROM gpu_minutes, gpu_latest"
    ).fetchone()
    assert (minute, end) == ("2026-11-22T06:01", "2026-11-22T06:01:00+00:00")
    assert bot.post(_at_time("batch-minus11", "2026-11-21T19:01:00-11:00"))[1]["stored"]
    node = fleet(bot.db, NOW)[0]
    assert node.state != "silent"  # -11:00 is not eleven hours ago


def test_a_node_belongs_to_the_token_that_first_reported_it(bot, capsys):
    from bot.cli import main

    other = create_token(bot.db, "intruder", NOW)
    claimer = create_token(bot.db, "rotation", NOW, can_claim=True)
    assert bot.post(good_batch("batch-first"))[0] == 200
    status, body = bot.post(good_batch("batch-other"), token=other)
    assert status == 403 and "node i-0abc belongs to agent token 'training-nodes'" in body["why"]
    assert bot.post(good_batch("batch-claim"), token=claimer)[0] == 200  # --can-claim
    assert bot.post(good_batch("batch-back"))[0] == 403  # now it is rotation's node
    revoke_token(bot.db, "rotation", NOW)
    assert bot.post(good_batch("batch-after"), token=other)[0] == 200  # a revoked owner
    assert main(["agent-token", "list", "--db", str(bot.db_path)]) == 0
    out = capsys.readouterr().out
    assert "intruder  created" in out and "1 node(s)" in out
    assert "rotation  created" in out and "may claim nodes" in out


def test_the_agent_says_403_once_and_waits_five_minutes(bot, capsys):
    other = create_token(bot.db, "intruder", NOW)
    assert bot.post(good_batch("batch-first"))[0] == 200
    sender = finops_agent.Sender(bot.url, other)
    sender.add(good_batch("batch-theirs"))
    assert sender.flush(1000.0) == 0
    assert sender.next_try == 1000.0 + 300
    assert "refused this node (403)" in capsys.readouterr().err
