"""`python -m bot serve` as a process: starts without network, serves /healthz and signed
slash commands, stops on SIGTERM; a missing setting stops it with one clear line."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from tests.conftest import REPO
from tests.fake_slack import FakeSlack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FINOPS_BOT"))}
    env.update(extra)
    return env


def test_serve_http_mode_end_to_end(tmp_path):
    db = tmp_path / "serve.db"
    subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--db", str(db)],
        cwd=REPO,
        env=base_env(),
        check=True,
        capture_output=True,
    )
    fake = FakeSlack()
    port = free_port()
    env = base_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="sekrit",
        SLACK_API_URL=fake.url + "/api/",
        FINOPS_BOT_VERIFY_TOKEN="false",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--db",
            str(db),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "finops-bot serving (HTTP" in line
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["ok"] is True
        body = urlencode(
            {
                "command": "/finops",
                "text": "top 3 projects last month",
                "user_id": "U1",
                "channel_id": "C1",
                "team_id": "T1",
                "response_url": fake.url + "/resp",
                "trigger_id": "1",
            }
        )
        ts = str(int(time.time()))
        conn.request(
            "POST",
            "/slack/events",
            body=body,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "x-slack-request-timestamp": ts,
                "x-slack-signature": SignatureVerifier("sekrit").generate_signature(
                    timestamp=ts, body=body
                ),
            },
        )
        resp = conn.getresponse()
        payload = json.loads(resp.read())
        assert resp.status == 200
        assert payload["blocks"][0]["text"]["text"] == "Top 3 projects · last month"
        assert fake.calls == []  # no auth.test, no network at start
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        fake.stop()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert " WARNING " not in err, err  # nothing to warn about at every start
    assert "INFO finops_bot.slack: slack command /finops from U1: 200 in " in err


def test_serve_refuses_to_start_without_a_token(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--db", str(tmp_path / "x.db")],
        cwd=REPO,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: SLACK_BOT_TOKEN is not set: export the app's Bot User OAuth Token (xoxb-...)"
    ]


def test_serve_socket_mode_reports_unhealthy_until_connected(tmp_path):
    from handlers.http.healthz import healthz
    from handlers.http.routing import Request

    route = healthz(lambda: (True, "cache readable"), lambda: False)
    response = route(Request("GET", "/healthz", "", {}, b""))
    assert response.status == 503
    assert json.loads(response.body) == {
        "cache": "cache readable",
        "mode": "socket",
        "socket_mode_connected": False,
        "ok": False,
    }
