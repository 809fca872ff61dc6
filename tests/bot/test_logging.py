"""What `serve` logs: no warning at start, one INFO line per Slack request (kind, user,
status, ms), and heartbeats as one counter line per minute, never a line per batch."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_bolt.request import BoltRequest

from bot.answers import AnswerService
from bot.app import SlackDeps, build_app
from bot.deps import slack_settings
from bot.server import start_server
from finops_bot.config import SlackSettings
from finops_bot.demo import load_demo
from finops_bot.gpu.tokens import create_token
from finops_bot.ingest.tags import TagRules
from finops_bot.store import connect
from handlers.http.heartbeats import HeartbeatsRoute
from handlers.http.routing import Router
from tests.conftest import NOW, TODAY
from tests.fake_slack import FakeSlack
from tests.handlers.test_heartbeats import good_batch

SLACK_LINE = r"slack (.+) from (\S+): (\S+) in (\d+) ms(.*)"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("logging") / "demo.db"
    db = connect(path)
    load_demo(db, TODAY, NOW, TagRules({"project": ("project",)}))
    db.close()
    return path


@pytest.fixture
def app(demo_db):
    fake = FakeSlack()
    settings = SlackSettings(
        bot_token="xoxb-test",
        signing_secret=None,
        app_token="xapp-test",  # Socket Mode: requests come unsigned, straight to dispatch
        api_url=fake.url + "/api/",
        verify_token=False,
        host="127.0.0.1",
        port=0,
    )
    answers = AnswerService(demo_db, "EffectiveCost", today=lambda: TODAY)
    yield build_app(settings, SlackDeps(answers)), fake
    fake.stop()


def slack_lines(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "finops_bot.slack" and r.getMessage().startswith("slack ")
    ]


def test_serve_settings_leave_no_token_for_bolt_to_warn_about(monkeypatch, caplog):
    """Bolt's App reads SLACK_BOT_TOKEN from the environment when it is there and, given
    our client and authorize, warns at every start that it will not use it. serve reads
    the secrets once and takes them out of the environment: no warning, no second reader."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "sekrit")
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.setenv("FINOPS_BOT_VERIFY_TOKEN", "false")
    caplog.set_level(logging.DEBUG)
    settings = slack_settings(None, "127.0.0.1", 0)
    assert settings.bot_token == "xoxb-test" and settings.signing_secret == "sekrit"
    build_app(settings, SlackDeps(answers=None))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "SLACK_BOT_TOKEN" not in os.environ and "SLACK_SIGNING_SECRET" not in os.environ


def test_one_line_per_slack_request(app, caplog):
    app, fake = app
    caplog.set_level(logging.INFO, logger="finops_bot.slack")
    form = {
        "command": "/finops",
        "text": "top 3 projects last month",
        "user_id": "U111",
        "team_id": "T111",
        "channel_id": "C111",
        "response_url": fake.url + "/resp",
        "trigger_id": "1",
    }
    form_type = {"content-type": ["application/x-www-form-urlencoded"]}
    assert app.dispatch(BoltRequest(body=urlencode(form), headers=form_type)).status == 200
    mention = {
        "type": "event_callback",
        "team_id": "T111",
        "event_id": "Ev1",
        "event": {
            "type": "app_mention",
            "user": "U222",
            "text": "<@UBOT> total spend this month",
            "channel": "C111",
            "ts": "1.2",
        },
    }
    json_type = {"content-type": ["application/json"]}
    assert app.dispatch(BoltRequest(body=json.dumps(mention), headers=json_type)).status == 200
    again = BoltRequest(body=json.dumps(mention), headers=json_type)  # same event_id
    assert app.dispatch(again).status == 200
    click = {
        "type": "block_actions",
        "team": {"id": "T111"},
        "user": {"id": "U333"},
        "channel": {"id": "C111"},
        "response_url": fake.url + "/resp",
        "actions": [{"action_id": "finops_ask_0", "value": "total spend this month"}],
    }
    payload = urlencode({"payload": json.dumps(click)})
    assert app.dispatch(BoltRequest(body=payload, headers=form_type)).status == 200
    retry = BoltRequest(
        body=urlencode(form),
        headers={**form_type, "x-slack-retry-num": ["1"], "x-slack-retry-reason": ["timeout"]},
    )
    assert app.dispatch(retry).status == 200
    fake.wait_for("/api/chat.postMessage")  # the mention and the click were answered
    fake.wait_for("/resp")
    lines = slack_lines(caplog)
    assert len(lines) == 5, lines
    parsed = [re.fullmatch(SLACK_LINE, line).groups() for line in lines]
    assert [(kind, user, status) for kind, user, status, _, _ in parsed] == [
        ("command /finops", "U111", "200"),
        ("event app_mention", "U222", "200"),
        ("event app_mention", "U222", "200"),
        ("action finops_ask_0", "U333", "200"),
        ("command /finops", "U111", "200"),
    ]
    assert [note for *_, note in parsed] == [
        "",
        "",
        " (event Ev1 delivered twice, ignored)",
        "",
        " (Slack retry 1 (timeout), ignored)",
    ]


class Heartbeats:
    def __init__(self, db_path: Path, every_s: float):
        db = connect(db_path)
        self.token = create_token(db, "nodes", NOW)
        db.close()
        self.route = HeartbeatsRoute(db_path, lambda: NOW, count_every_s=every_s)
        router = Router()
        router.add("POST", "/v1/heartbeats", self.route)
        self.server, _ = start_server("127.0.0.1", 0, router)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.server.server_address[1])

    def post(self, batch: dict, token: str | None = None) -> int:
        headers = {"authorization": f"Bearer {token or self.token}"}
        self.conn.request("POST", "/v1/heartbeats", body=json.dumps(batch), headers=headers)
        response = self.conn.getresponse()
        response.read()
        return response.status


def test_heartbeats_log_one_counter_line_a_minute(db_path, caplog):
    caplog.set_level(logging.INFO, logger="finops_bot.heartbeats")
    hb = Heartbeats(db_path, every_s=1.5)
    try:
        began = time.monotonic()
        statuses = [hb.post(good_batch(f"batch-{i:04d}")) for i in range(20)]
        statuses += [hb.post(good_batch("batch-0000")) for _ in range(3)]  # replays
        statuses += [hb.post(good_batch("batch-x001"), token="fbt_wrong") for _ in range(2)]
        statuses.append(hb.post({**good_batch("batch-x002"), "gpus": "none"}))
        assert statuses == [200] * 23 + [401, 401, 400]
        assert time.monotonic() - began < 1.5, "too slow to land in one counting window"
        records = lambda: [r for r in caplog.records if r.name == "finops_bot.heartbeats"]  # noqa: E731
        deadline = time.monotonic() + 5
        while not records() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.7)  # a quiet minute logs nothing
        assert [r.getMessage() for r in records()] == [
            "heartbeats, last 2 s: 20 stored, 3 replays, 3 refused (400: 1, 401: 2)"
        ]
        assert hb.post(good_batch("batch-0100")) == 200
        hb.server.shutdown()
        hb.route.counts.log()  # as serve does at stop: the last counts are not lost
        assert records()[-1].getMessage() == "heartbeats, last 0 s: 1 stored, 0 replays, 0 refused"
        assert len(records()) == 2
    finally:
        hb.server.shutdown()
