"""Scenario tests: the real Bolt app, requests signed with the signing secret, sent through
the real HTTP server on loopback and through Bolt's dispatch, and a fake Slack Web API on
127.0.0.1 that records what the app sends. No real Slack, no network beyond loopback."""

from __future__ import annotations

import http.client
import json
import time
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest
from slack_bolt.request import BoltRequest
from slack_sdk.models.blocks import Block
from slack_sdk.signature import SignatureVerifier

from bot.answers import AnswerService
from bot.app import SlackDeps, build_app
from bot.server import start_server
from finops_bot.config import SlackSettings
from finops_bot.demo import load_demo
from finops_bot.store import connect
from handlers import http as http_routes
from handlers.http.routing import Router
from tests.conftest import NOW, TODAY
from tests.fake_slack import FakeSlack

SECRET = "test-signing-secret"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, rules_module) -> Path:
    path = tmp_path_factory.mktemp("slack") / "demo.db"
    db = connect(path)
    load_demo(db, TODAY, NOW, rules_module)
    db.close()
    return path


@pytest.fixture(scope="module")
def rules_module():
    from finops_bot.ingest.tags import TagRules

    return TagRules({"project": ("project",), "team": ("team",), "owner": ("owner",)})


class Slack:
    """The app under test, its server, and the fake Web API."""

    def __init__(self, db_path: Path):
        self.fake = FakeSlack()
        settings = SlackSettings(
            bot_token="xoxb-test",
            signing_secret=SECRET,
            app_token=None,
            api_url=self.fake.url + "/api/",
            verify_token=False,
            host="127.0.0.1",
            port=0,
        )
        self.answers = AnswerService(db_path, "EffectiveCost", today=lambda: TODAY)
        self.deps = SlackDeps(self.answers)
        self.app = build_app(settings, self.deps)
        router = Router()
        http_routes.register(
            router,
            health=self.answers.healthy,
            socket_connected=None,
            app=self.app,
            signing_secret=SECRET,
            clock=time.time,
        )
        self.server, _ = start_server("127.0.0.1", 0, router)
        self.port = self.server.server_address[1]

    def post(
        self,
        body: str,
        *,
        headers: dict | None = None,
        ts: int | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        sign: bool = True,
    ):
        timestamp = str(ts if ts is not None else int(time.time()))
        h = {"content-type": content_type, "x-slack-request-timestamp": timestamp}
        if sign:
            h["x-slack-signature"] = SignatureVerifier(SECRET).generate_signature(
                timestamp=timestamp, body=body
            )
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", "/slack/events", body=body.encode(), headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, (json.loads(data) if data.startswith(b"{") else data.decode())

    def command(self, text: str, **kw):
        return self.post(urlencode(slash_fields(text, self.fake.url)), **kw)

    def event(self, event: dict, **kw):
        body = {
            "token": "x",
            "team_id": "T111",
            "api_app_id": "A111",
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": event,
        }
        return self.post(json.dumps(body), content_type="application/json", **kw)

    def close(self) -> None:
        self.server.shutdown()
        self.fake.stop()


def slash_fields(text: str, fake_url: str) -> dict:
    return {
        "token": "verification-token",
        "team_id": "T111",
        "team_domain": "acme",
        "channel_id": "C111",
        "channel_name": "ml-costs",
        "user_id": "U111",
        "user_name": "alice",
        "command": "/finops",
        "text": text,
        "response_url": f"{fake_url}/commands/T111/1/resp",
        "trigger_id": "111.222.333",
        "api_app_id": "A111",
    }


def click(slack: Slack, button: dict, response: str) -> str:
    """A block_actions body for a click on ``button`` by U111 in C111."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U111", "name": "alice"},
        "team": {"id": "T111"},
        "channel": {"id": "C111"},
        "api_app_id": "A111",
        "response_url": f"{slack.fake.url}/actions/T111/{response}/resp",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "is_ephemeral": True},
        "actions": [{**button, "block_id": "b", "action_ts": "1700000000.1"}],
    }
    return urlencode({"payload": json.dumps(payload)})


@pytest.fixture
def slack(demo_db):
    s = Slack(demo_db)
    yield s
    s.close()


def assert_valid_blocks(blocks: list[dict]) -> None:
    assert 0 < len(blocks) <= 50
    for block in blocks:
        Block.parse(block).validate_json()  # slack_sdk's own Block Kit limits


def test_slash_command_answers_ephemerally_with_a_share_button(slack):
    status, body = slack.command("what did project bert-training cost this week")
    assert status == 200
    assert body["response_type"] == "ephemeral"
    assert_valid_blocks(body["blocks"])
    header = body["blocks"][0]
    assert header["type"] == "header"
    assert header["text"]["text"] == "Project bert-training · this week"
    text = json.dumps(body["blocks"])
    assert "EffectiveCost" in text and "Data through 2026-11-21" in text
    assert "vs last week, same days" in text  # the change against the previous period
    button = body["blocks"][-1]["elements"][0]
    assert button["text"]["text"] == "Share in channel"
    assert json.loads(button["value"]) == {
        "q": "what did project bert-training cost this week",
        "d": "2026-11-22",
    }
    assert body["text"].startswith("Project bert-training · this week: $")


def test_help_and_empty_text(slack):
    for text in ("help", ""):
        status, body = slack.command(text)
        assert status == 200
        assert "top 5 projects last month" in json.dumps(body["blocks"])
        assert_valid_blocks(body["blocks"])


def test_unknown_project_gets_did_you_mean_and_no_number(slack):
    _, body = slack.command("project bert-trainng this week")
    text = json.dumps(body["blocks"])
    assert "Did you mean" in text and "bert-training" in text
    assert "$" not in text


def test_empty_cache_gets_a_helpful_reply(tmp_path):
    s = Slack(tmp_path / "empty.db")
    try:
        _, body = s.command("top 5 projects")
        assert "no billing data yet" in json.dumps(body["blocks"])
    finally:
        s.close()


def test_mention_answers_in_thread(slack):
    status, _ = slack.event(
        {
            "type": "app_mention",
            "user": "U111",
            "channel": "C111",
            "text": "<@UBOT> top 3 projects last month",
            "ts": "1700000000.000100",
        }
    )
    assert status == 200
    call = slack.fake.wait_for("/api/chat.postMessage")[0]
    assert call["body"]["channel"] == "C111"
    assert call["body"]["thread_ts"] == "1700000000.000100"
    assert call["auth"] == "Bearer xoxb-test"
    assert call["body"]["blocks"][0]["text"]["text"] == "Top 3 projects · last month"


def test_direct_message_answers_in_the_dm_and_ignores_bots(slack):
    slack.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "D111",
            "user": "U111",
            "text": "untagged spend last 30 days",
            "ts": "1700000000.000200",
        }
    )
    call = slack.fake.wait_for("/api/chat.postMessage")[0]
    assert call["body"]["channel"] == "D111"
    assert "thread_ts" not in call["body"]
    slack.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "D111",
            "bot_id": "B1",
            "text": "an echo",
            "ts": "1700000000.000300",
        }
    )
    time.sleep(0.3)
    assert len([c for c in slack.fake.calls if c["path"] == "/api/chat.postMessage"]) == 1


def test_share_button_posts_the_same_answer_visibly(slack):
    _, answer = slack.command("top 5 projects last month")
    value = answer["blocks"][-1]["elements"][0]["value"]
    button = {"type": "button", "action_id": "finops_share", "value": value}
    status, _ = slack.post(click(slack, button, "1"))
    assert status == 200
    call = slack.fake.wait_for("/actions/T111/1/resp")[0]
    assert call["body"]["response_type"] == "in_channel"
    assert call["body"]["blocks"][0] == answer["blocks"][0]  # same answer, shared
    assert "Shared by <@U111>" in json.dumps(call["body"]["blocks"])


def test_a_suggestion_button_asks_its_question(slack):
    _, answer = slack.command("what is the weather like in lisbon")
    actions = next(b for b in answer["blocks"] if b["type"] == "actions")
    button = actions["elements"][1]
    assert button["action_id"] == "finops_ask_1" and button["value"] == "total spend this month"
    assert_valid_blocks(answer["blocks"])
    status, _ = slack.post(click(slack, button, "2"))
    assert status == 200
    call = slack.fake.wait_for("/actions/T111/2/resp")[0]
    assert call["body"]["response_type"] == "ephemeral"
    assert call["body"]["blocks"][0]["text"]["text"] == "All spend · this month"


def test_bad_signature_and_stale_timestamp_are_401_and_nothing_runs(slack):
    body = urlencode(slash_fields("top 5 projects", slack.fake.url))
    status, reply = slack.post(body, headers={"x-slack-signature": "v0=deadbeef"})
    assert status == 401 and "signature" in reply["error"]
    status, _ = slack.post(body, sign=False)
    assert status == 401
    status, _ = slack.post(body, ts=int(time.time()) - 6 * 60)  # signed, but 6 minutes old
    assert status == 401
    time.sleep(0.2)
    assert slack.fake.calls == []


def raw_post(slack, body: bytes, headers: dict[str, str]) -> int:
    """Any bytes, any headers: what an attacker can send."""
    conn = http.client.HTTPConnection("127.0.0.1", slack.port, timeout=10)
    conn.putrequest("POST", "/slack/events")
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.putheader("content-length", str(len(body)))
    conn.endheaders(body)
    status = conn.getresponse().status
    conn.close()
    return status


def sign(body: bytes, ts: str) -> str:
    import hashlib
    import hmac

    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return "v0=" + digest.hexdigest()


def test_anything_that_fails_verification_is_401_whatever_its_bytes(slack):
    now = str(int(time.time()))
    form = urlencode(slash_fields("help", slack.fake.url)).encode()
    cases = [
        (form, {"x-slack-request-timestamp": "12.5e3", "x-slack-signature": "v0=ab"}),
        (form, {"x-slack-request-timestamp": "tomorrow", "x-slack-signature": sign(form, now)}),
        (form, {"x-slack-request-timestamp": now, "x-slack-signature": "v0=\xff\xfe\u00e9"}),
        (
            b"\xff\xfe not utf-8 \x80",
            {"x-slack-request-timestamp": now, "x-slack-signature": "v0=0"},
        ),
        (form, {}),
        (form, {"x-slack-request-timestamp": "", "x-slack-signature": ""}),
        (form, {"x-slack-request-timestamp": "9" * 40, "x-slack-signature": "v0="}),
    ]
    for body, headers in cases:
        assert raw_post(slack, body, headers) == 401, headers


def test_signed_but_malformed_payloads_are_400_or_ignored_never_500(slack):
    now = str(int(time.time()))
    deep = "[" * 100_000 + "]" * 100_000
    bodies = [
        (b"\xff\xfe not utf-8", "application/x-www-form-urlencoded"),
        (urlencode({"payload": deep}).encode(), "application/x-www-form-urlencoded"),
        (json.dumps({"type": "event_callback", "event": "nope"}).encode(), "application/json"),
        (json.dumps({"type": "event_callback", "event": {"type": 7}}).encode(), "application/json"),
        (
            urlencode({"payload": json.dumps({"type": "block_actions", "actions": "x"})}).encode(),
            "application/x-www-form-urlencoded",
        ),  # fmt: skip
        (
            urlencode({"payload": json.dumps({"type": "view_submission", "view": {}})}).encode(),
            "application/x-www-form-urlencoded",
        ),  # fmt: skip
        (
            urlencode({"command": ["/finops"], "text": ["a", "b"]}, doseq=True).encode(),
            "application/x-www-form-urlencoded",
        ),  # fmt: skip
    ]
    for body, kind in bodies:
        headers = {"content-type": kind, "x-slack-request-timestamp": now}
        headers["x-slack-signature"] = sign(body, now)
        assert raw_post(slack, body, headers) in (200, 400, 404), body[:60]


def test_an_event_delivered_twice_is_answered_once(slack):
    event = {"type": "app_mention", "user": "U111", "channel": "C111", "text": "<@UBOT> help",
             "ts": "1700000000.000500"}  # fmt: skip
    body = {"token": "x", "team_id": "T111", "api_app_id": "A111", "type": "event_callback",
            "event_id": "Ev-twice", "event_time": int(time.time()), "event": event}  # fmt: skip
    for _ in range(2):
        assert slack.post(json.dumps(body), content_type="application/json")[0] == 200
    slack.fake.wait_for("/api/chat.postMessage")
    time.sleep(0.3)
    assert len([c for c in slack.fake.calls if c["path"] == "/api/chat.postMessage"]) == 1


def test_retries_never_answer_twice(slack):
    event = {
        "type": "app_mention",
        "user": "U111",
        "channel": "C111",
        "text": "<@UBOT> help",
        "ts": "1700000000.000400",
    }
    slack.event(event)
    slack.fake.wait_for("/api/chat.postMessage")
    status, _ = slack.event(
        event, headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
    )
    assert status == 200
    time.sleep(0.3)
    assert len([c for c in slack.fake.calls if c["path"] == "/api/chat.postMessage"]) == 1


def test_malformed_body_is_400_and_the_process_stays_up(slack):
    assert slack.post("payload=%7Bnot-json")[0] == 400
    assert slack.post("{{{", content_type="application/json")[0] == 400
    assert slack.post("\udcff".encode("utf-8", "surrogatepass").decode("latin-1"))[0] == 400
    status, body = slack.command("help")
    assert status == 200 and body["blocks"]


def test_oversized_body_is_413(slack):
    status, body = slack.post("text=" + "x" * (1 << 20))
    assert status == 413


def test_slow_question_acks_at_once_and_finishes_through_respond(slack, monkeypatch):
    real = slack.answers.ask

    def slow(question, today=None, user_id=None, audience=None):
        time.sleep(0.6)
        return real(question, today)

    monkeypatch.setattr(slack.answers, "ask", slow)
    slack.deps.ack_budget = 0.1
    began = time.monotonic()
    status, body = slack.command("top 5 projects last month")
    assert status == 200 and time.monotonic() - began < 0.5
    assert body["text"].startswith("Working on")
    call = slack.fake.wait_for("/commands/T111/1/resp")[0]
    assert call["body"]["blocks"][0]["text"]["text"] == "Top 5 projects · last month"


def test_unexpected_error_is_logged_and_the_user_gets_an_apology(slack, monkeypatch, caplog):
    def broken(question, today=None, user_id=None, audience=None):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(slack.answers, "ask", broken)
    status, body = slack.command("top 5 projects")
    assert status == 200 and "Sorry, something went wrong" in body["text"]
    assert "database on fire" not in json.dumps(body)
    assert any("database on fire" in str(r.exc_info) for r in caplog.records if r.exc_info)


def test_slow_questions_never_starve_the_others(demo_db, monkeypatch):
    """Twice the pool's size of slow questions in flight: ten more /finops are each acked
    in under a second (busy, once the queue is full) and the slow ones still finish."""
    import threading

    slack = Slack(demo_db)
    slack.answers = slack.deps.answers = AnswerService(
        demo_db, "EffectiveCost", today=lambda: TODAY, workers=2
    )
    release = threading.Event()
    real = slack.answers.ask

    def ask(question, today=None, user_id=None, audience=None):
        if question.startswith("slow"):
            release.wait(30)
            question = "top 5 projects last month"
        return real(question, today)

    monkeypatch.setattr(slack.answers, "ask", ask)
    slack.deps.ack_budget = 0.2
    try:
        for i in range(4):
            assert slack.command(f"slow {i}")[1]["text"].startswith("Working on")
        times, texts = [], []
        for _ in range(10):
            began = time.monotonic()
            status, body = slack.command("top 5 projects last month")
            times.append(time.monotonic() - began)
            texts.append(body["text"])
            assert status == 200
        assert max(times) < 1.0, times
        assert set(texts) == {"I'm busy answering other questions; try again in a minute."}
        release.set()
        finished = slack.fake.wait_for("/commands/T111/1/resp", count=4)
        assert all(c["body"]["blocks"][0]["text"]["text"].startswith("Top 5") for c in finished)
        status, body = slack.command("top 5 projects last month")  # free again
        assert body["blocks"][0]["text"]["text"] == "Top 5 projects · last month"
    finally:
        release.set()
        slack.close()


def test_a_very_long_question_gets_a_one_line_reply_at_once(slack):
    began = time.monotonic()
    status, body = slack.command("what did " + "gpu " * 10_000 + "cost")
    assert status == 200 and time.monotonic() - began < 1.0
    assert "characters long; ask in 500 or fewer" in json.dumps(body)
    assert len(json.dumps(body)) < 4000  # the question is not echoed back whole


def test_web_api_429_is_retried_after_retry_after(slack):
    slack.fake.force(
        "/api/chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
    )
    slack.event(
        {
            "type": "app_mention",
            "user": "U111",
            "channel": "C111",
            "text": "<@UBOT> help",
            "ts": "1700000000.000500",
        }
    )
    calls = slack.fake.wait_for("/api/chat.postMessage", count=2, timeout=8)
    assert calls[0]["body"] == calls[1]["body"]


def test_through_bolt_dispatch_directly(slack):
    body = urlencode(slash_fields("total spend this month", slack.fake.url))
    ts = str(int(time.time()))
    headers = {
        "content-type": ["application/x-www-form-urlencoded"],
        "x-slack-request-timestamp": [ts],
        "x-slack-signature": [
            SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
        ],
    }
    response = slack.app.dispatch(BoltRequest(body=body, headers=headers))
    assert response.status == 200
    assert json.loads(response.body)["blocks"][0]["text"]["text"] == "All spend · this month"
    bad = dict(headers, **{"x-slack-signature": ["v0=0"]})
    assert slack.app.dispatch(BoltRequest(body=body, headers=bad)).status == 401


def test_healthz(slack):
    conn = http.client.HTTPConnection("127.0.0.1", slack.port, timeout=5)
    conn.request("GET", "/healthz")
    resp = conn.getresponse()
    payload = json.loads(resp.read())
    assert resp.status == 200 and payload["ok"] is True
    assert "data through 2026-11-21" in payload["cache"]
    conn.request("GET", "/nope")
    assert conn.getresponse().status == 404


def test_the_shared_slash_command_fixture_dispatches(slack, shared_fixtures):
    fields = {
        k: v[0]
        for k, v in parse_qs(
            (shared_fixtures / "slack/slash_command_request_body.txt").read_text().strip()
        ).items()
    }
    assert {"command", "text", "response_url", "user_id", "channel_id"} <= set(fields)
    fields.update(
        command="/finops",
        text="top 3 services last month",
        response_url=f"{slack.fake.url}/commands/fixture",
    )
    status, body = slack.post(urlencode(fields))
    assert status == 200 and body["blocks"][0]["text"]["text"] == "Top 3 services · last month"


def test_answer_day_is_pinned_for_the_share(slack):
    # a share clicked after midnight answers for the day the question was asked
    value = json.dumps({"q": "total spend yesterday", "d": "2026-11-10"})
    question, day = __import__("finops_bot.render.blocks", fromlist=["x"]).parse_share_value(value)
    assert slack.answers.ask(question, day).period.start == date(2026, 11, 9)
