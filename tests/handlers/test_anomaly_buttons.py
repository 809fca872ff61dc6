"""The digest's anomaly buttons through the real Bolt app, signed block_actions and the fake
Web API: the owner (by email from users.info), an admin and an approver may decide; anyone
else gets an ephemeral refusal and the card is untouched; a decision is stored with the
signed user id and the card updated with who did what; a double click records once."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, date, datetime
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from bot.answers import AnswerService
from bot.feedback import Feedback
from bot.people import People
from finops_bot.access import parse_access
from finops_bot.anomalies.rules import AnomalyRules
from finops_bot.anomalies.run import find, save
from finops_bot.digest.rules import DigestRules
from finops_bot.render.digest import feedback_buttons
from finops_bot.store import anomalies as stored
from finops_bot.store import connect
from tests.conftest import TODAY
from tests.handlers.test_slack_scenarios import Slack, demo_db, rules_module  # noqa: F401

POLICY = parse_access({"mode": "scoped", "admins": ["U0ADMIN"], "approvers": ["U0APPROVER"],
                       "contact": "#finops-help"})  # fmt: skip
EMAILS = {"U0BOB": "bob@acme.ai", "U0EVE": "eve@acme.ai", "U0ADMIN": "root@acme.ai",
          "U0APPROVER": "appr@acme.ai"}  # fmt: skip
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


@pytest.fixture
def slack(demo_db, tmp_path):  # noqa: F811
    path = tmp_path / "cache.db"
    shutil.copy(demo_db, path)
    db = connect(path)
    save(db, find(db, AnomalyRules(), date(2026, 11, 21)), AnomalyRules().dimensions, NOW,
         "EffectiveCost")  # fmt: skip
    db.close()
    s = Slack(path)
    s.fake.answers["/api/auth.test"] = lambda body: {"ok": True, "team_id": "T111"}
    s.fake.answers["/api/users.info"] = lambda body: {
        "ok": True,
        "user": {"id": body["user"], "team_id": "T111", "profile": {"email": EMAILS[body["user"]]}},
    }
    client = WebClient(token="xoxb-test", base_url=s.fake.url + "/api/")
    people = People(lambda: client)
    s.answers = s.deps.answers = AnswerService(path, "EffectiveCost", today=lambda: TODAY,
                                               people=people, access=POLICY)  # fmt: skip
    s.deps.feedback = Feedback(path, POLICY, people, DigestRules(), lambda: NOW)
    s.path = path
    yield s
    s.close()


def spike_id(slack) -> str:
    db = connect(slack.path)
    (a,) = [x for x in stored.stored(db) if x.dim == "project" and x.key == "llm-finetune"]
    db.close()
    return a.id


def click(slack, user: str, action_id: str, anomaly: str, n: int):
    card = [{"type": "section", "text": {"type": "mrkdwn", "text": "• project llm-finetune"}},
            feedback_buttons(anomaly)]  # fmt: skip
    button = next(b for b in card[1]["elements"] if b["action_id"] == action_id)
    payload = {
        "type": "block_actions",
        "user": {"id": user, "name": "someone"},
        "team": {"id": "T111"},
        "channel": {"id": "C0NLP"},
        "api_app_id": "A111",
        "response_url": f"{slack.fake.url}/actions/T111/{n}/resp",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": "1700.0001", "channel_id": "C0NLP"},
        "message": {"ts": "1700.0001", "text": "Daily cost digest", "blocks": card},
        "actions": [{**button, "block_id": card[1]["block_id"], "action_ts": "1700000000.1"}],
    }
    status, _ = slack.post(urlencode({"payload": json.dumps(payload)}))
    assert status == 200


def updates(slack) -> list[dict]:
    return [c["body"] for c in slack.fake.calls if c["path"] == "/api/chat.update"]


def test_someone_else_is_refused_and_the_card_untouched(slack):
    anomaly = spike_id(slack)
    click(slack, "U0EVE", "finops_anomaly_ack", anomaly, 1)
    reply = slack.fake.wait_for("/actions/T111/1/resp")[0]["body"]
    assert reply["response_type"] == "ephemeral"
    assert "Only project llm-finetune's owner (bob@acme.ai)" in reply["text"]
    assert "Nothing was changed" in reply["text"]
    time.sleep(0.2)
    assert updates(slack) == []
    db = connect(slack.path)
    assert stored.get(db, anomaly).status == "resolved"
    db.close()


def test_the_owner_decides_once_and_the_card_says_who(slack):
    anomaly = spike_id(slack)
    click(slack, "U0BOB", "finops_anomaly_ack", anomaly, 2)
    (update,) = slack.fake.wait_for("/api/chat.update")
    body = update["body"]
    assert body["channel"] == "C0NLP" and body["ts"] == "1700.0001"
    assert body["blocks"][1] == {
        "type": "context",
        "block_id": f"anomaly:{anomaly}",
        "elements": [{"type": "mrkdwn", "text": "Acknowledged by <@U0BOB>"}],
    }
    click(slack, "U0BOB", "finops_anomaly_ack", anomaly, 3)  # a double click
    slack.fake.wait_for("/api/chat.update", 2)
    db = connect(slack.path)
    a = stored.get(db, anomaly)
    assert a.status == "acknowledged"
    assert [h["by"] for h in a.history] == ["detector", "U0BOB"]  # recorded once
    db.close()


def test_admins_and_approvers_decide(slack):
    anomaly = spike_id(slack)
    click(slack, "U0APPROVER", "finops_anomaly_not", anomaly, 4)
    slack.fake.wait_for("/api/chat.update")
    click(slack, "U0ADMIN", "finops_anomaly_expected", anomaly, 5)
    slack.fake.wait_for("/api/chat.update", 2)
    db = connect(slack.path)
    a = stored.get(db, anomaly)
    assert a.status == "expected" and [h["by"] for h in a.history][-2:] == ["U0APPROVER",
                                                                             "U0ADMIN"]  # fmt: skip
    assert stored.labels(db)[anomaly] == "expected"  # fed to the detector
    db.close()


def test_an_owner_mutes_their_digest_dms_from_slack(slack):
    from urllib.parse import urlencode

    from finops_bot.store import ledger
    from tests.handlers.test_slack_scenarios import slash_fields

    fields = {**slash_fields("mute digests 7d", slack.fake.url), "user_id": "U0BOB"}
    status, body = slack.post(urlencode(fields))
    assert status == 200 and body["response_type"] == "ephemeral"
    assert body["text"].startswith("Your digest DMs are muted until 2026-11-29")
    db = connect(slack.path)
    assert ledger.muted(db, "U0BOB", NOW) and not ledger.muted(db, "U0EVE", NOW)
    fields["text"] = "unmute digests"
    assert slack.post(urlencode(fields))[1]["text"] == "Your digest DMs are on again."
    assert not ledger.muted(db, "U0BOB", NOW)
    db.close()
