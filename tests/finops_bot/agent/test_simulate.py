"""`finops_agent.py --simulate idle|busy|stalled`: schema-valid, clock-valid batches for a fake
8-GPU node that put it in that state at once under the server's own rules; no NVML needed,
runnable as the one file GET /agent.py serves; refusals and errors reported in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from finops_bot.agent import finops_agent
from finops_bot.gpu.batch import check_clock, validate_batch
from finops_bot.gpu.fleet import FleetRules, fleet
from finops_bot.gpu.heartbeat import store_batches
from finops_bot.gpu.tokens import create_token, verify_token
from tests.finops_bot.gpu.test_heartbeat_schema import ORACLE

SCENARIOS = ("idle", "busy", "stalled")
ENV = {"FINOPS_AGENT_NO_METADATA": "1"}


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _end(batch: dict) -> datetime:
    return datetime.fromisoformat(batch["window"]["end"].replace("Z", "+00:00"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_printed_batch_is_schema_valid_and_within_the_servers_clock(scenario, capsys):
    before = datetime.now(UTC).replace(microsecond=0)
    assert finops_agent.main(["--simulate", scenario, "--print"], ENV) == 0
    after = datetime.now(UTC)
    out, err = capsys.readouterr()
    batches = [json.loads(line) for line in out.splitlines()]
    assert len(batches) == finops_agent.SIM_MINUTES == 40  # JSON Lines, one batch a line
    assert len(err.strip().splitlines()) == 1 and "printed 40 one-minute batches" in err
    for payload in batches:
        ORACLE.validate(payload)  # the published schema, jsonschema as the oracle
        batch = validate_batch(payload)  # the server's own validator
        check_clock(batch, after, max_age_hours=24, max_ahead_minutes=0)  # never ahead of now
        assert len(payload["gpus"]) == 8 and payload["node"]["instance_type"] == "p4d.24xlarge"
        assert payload["node"]["hostname"].startswith(f"sim-{scenario}-")
        assert payload["node"]["instance_id"].startswith("sim-")
        assert payload["labels"] == {"project": "simulated", "job": f"simulate-{scenario}"}
        assert payload["agent"]["version"].endswith("+simulated")
    ends = [_end(b) for b in batches]
    assert ends == sorted(ends) and ends[-1] >= before and ends[-1] <= after
    assert len({e.strftime("%H:%M") for e in ends}) == 40  # one rollup minute each
    assert len({b["batch_id"] for b in batches}) == 40
    assert len({b["node"]["instance_id"] for b in batches}) == 1
    gpus = [g for b in batches for g in b["gpus"]]
    progress = [b["progress"] for b in batches]
    if scenario == "idle":
        assert all(g["util"]["max"] == 0 and g["processes"] == [] for g in gpus)
        assert progress == [None] * 40
    elif scenario == "busy":
        assert all(g["util"]["max"] >= 80 and g["processes"] for g in gpus)
        assert all(a < b for a, b in zip(progress, progress[1:], strict=False))  # advancing
    else:
        assert all(g["util"]["max"] < 5 and g["processes"] for g in gpus)
        assert all(g["mem_used_mb"]["mean"] > 30_000 for g in gpus)  # memory held
        assert progress[0] < progress[1] and set(progress[1:]) == {progress[1]}  # then stops


def _store(db, batches: list[dict], now: datetime) -> None:
    token_id = db.execute("SELECT id FROM agent_tokens").fetchone()
    token_id = token_id[0] if token_id else verify_token(db, create_token(db, "sim", now))
    for payload in batches:  # one at a time, as the simulator posts them
        batch = validate_batch(payload)
        check_clock(batch, now, 24, 5)
        assert store_batches(db, [(token_id, batch)], now)[0] in (True, False)


@pytest.mark.parametrize("second", [0, 1, 30, 59])
@pytest.mark.parametrize(
    ("scenario", "minutes", "state"),
    [
        ("idle", 30, "idle"),  # enough for idle_minutes up to --minutes
        ("idle", 29, "busy"),
        ("busy", 40, "busy"),
        ("stalled", 32, "stalled"),  # enough for stall_minutes up to --minutes - 2
        ("stalled", 31, "idle, memory held"),  # low utilisation: idle until it counts as stalled
    ],
)
def test_the_servers_rules_give_the_state_at_once(db, scenario, minutes, state, second):
    now = int(datetime(2026, 11, 22, 6, 0, second, tzinfo=UTC).timestamp())
    _store(db, finops_agent.sim_batches(scenario, minutes, now, ENV), _at(now))
    [node] = fleet(db, _at(now), rules=FleetRules())  # the default idle/stall 30 min
    assert node.state == state and node.hostname.startswith(f"sim-{scenario}-")
    assert node.hourly == pytest.approx(32.77) and node.price_basis.startswith("bundled")
    listed = [n.node for n in fleet(db, _at(now), idle_only=True) if n.state != "busy"]
    assert listed == ([] if state == "busy" else [node.node])  # what `gpus --idle` lists


def test_a_rerun_replays_the_minutes_it_repeats_and_keeps_the_state(db):
    now = int(datetime(2026, 11, 22, 6, 0, 20, tzinfo=UTC).timestamp())
    first = finops_agent.sim_batches("stalled", 40, now, ENV)
    again = finops_agent.sim_batches("stalled", 40, now + 600, ENV)  # ten minutes later
    same = finops_agent.sim_batches("stalled", 40, now, ENV)
    assert [(b["batch_id"], b["gpus"]) for b in same] == [(b["batch_id"], b["gpus"]) for b in first]
    shared = {b["batch_id"] for b in first} & {b["batch_id"] for b in again}
    assert len(shared) == 30 and first[0]["node"] == again[0]["node"]  # a stable identity
    _store(db, first, _at(now))
    _store(db, again, _at(now + 600))
    [node] = fleet(db, _at(now + 601))
    assert node.state == "stalled" and node.since < _at(now - 30 * 60).replace(tzinfo=None)


def test_simulate_needs_no_nvml(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    assert finops_agent.main(["--simulate", "idle", "--print", "--minutes", "2"], ENV) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_the_one_file_alone_runs_it_with_the_standard_library_only(tmp_path):
    alone = tmp_path / "finops_agent.py"
    shutil.copy(finops_agent.__file__, alone)
    proc = subprocess.run(  # -I -S: no site-packages (no pynvml, no finops_bot), no cwd
        [sys.executable, "-I", "-S", str(alone), "--simulate", "busy", "--print", "--minutes", "3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["node"]["instance_type"] for line in proc.stdout.splitlines()] == [
        "p4d.24xlarge"
    ] * 3


def test_follow_keeps_sending_one_batch_a_minute(monkeypatch, capsys):
    naps = []

    def sleep(seconds):
        naps.append(seconds)
        if len(naps) > 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(finops_agent.time, "sleep", sleep)
    args = ["--simulate", "busy", "--print", "--minutes", "2", "--follow"]
    assert finops_agent.main(args, ENV) == 0
    ends = [_end(json.loads(line)) for line in capsys.readouterr().out.splitlines()]
    assert len(ends) == 3 and ends[2] - ends[1] == timedelta(minutes=1)
    assert 0 < naps[0] <= 60


class Stub:
    """A bot that answers each POST from a script of (status, body, headers)."""

    def __init__(self, script: list[tuple[int, dict, dict]]):
        self.bodies: list[dict] = []
        bodies, answers = self.bodies, list(script)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - stdlib name
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                status, body, headers = answers.pop(0) if answers else (200, {"stored": True}, {})
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(data))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self):
        self.server.shutdown()


def _run(stub: Stub, tmp_path, *extra: str) -> int:
    token = tmp_path / "token"
    token.write_text("fbt_sim\n")
    args = ["--simulate", "idle", "--url", stub.url + "/", "--token-file", str(token), *extra]
    return finops_agent.main(args, ENV)


def test_sent_replayed_refused_and_a_busy_bot_waited_out(tmp_path, capsys):
    old = {"field": "window.end", "why": "is 25.0 hours old; batches older than 24 h are not"}
    stub = Stub(
        [
            (400, {"error": "invalid batch", **old}, {}),
            (429, {"error": "too many"}, {"Retry-After": "0"}),
            (200, {"stored": False}, {}),
        ]
    )
    try:
        began = time.monotonic()
        assert _run(stub, tmp_path, "--minutes", "4") == 1
        assert time.monotonic() - began < 5
    finally:
        stub.close()
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert "2 stored, 1 already stored, 1 refused" in err and "25.0 hours old" in err
    assert len(stub.bodies) == 5  # the 429'd batch was sent again
    assert stub.bodies[1]["batch_id"] == stub.bodies[2]["batch_id"]


def test_all_stored_exits_0_with_one_line_saying_what_gpus_shows(tmp_path, capsys):
    stub = Stub([])
    try:
        assert _run(stub, tmp_path) == 0
    finally:
        stub.close()
    out, err = capsys.readouterr()
    assert err == "" and len(out.strip().splitlines()) == 1
    assert "sent 40 one-minute batches" in out and "40 stored, 0 already stored" in out
    assert "`python -m bot gpus` should now show it idle" in out


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_or_node_stops_with_one_line(tmp_path, capsys, status):
    stub = Stub([(status, {"error": "not your node" if status == 403 else "unknown token"}, {})])
    try:
        assert _run(stub, tmp_path) == 1
    finally:
        stub.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"answered {status}" in err[0] and len(stub.bodies) == 1


def test_an_unreachable_bot_is_one_line(tmp_path, capsys):
    stub = Stub([])
    stub.close()
    stub.server.server_close()
    assert _run(stub, tmp_path) == 1
    assert "cannot reach the bot" in capsys.readouterr().err


@pytest.mark.parametrize("minutes", ["0", "1381", "ten"])
def test_minutes_stay_within_the_servers_max_batch_age(minutes, capsys):
    with pytest.raises(SystemExit) as stop:
        finops_agent.main(["--simulate", "idle", "--print", "--minutes", minutes], ENV)
    assert stop.value.code == 2 and "give 1 to 1380 minutes" in capsys.readouterr().err
