"""Who may see which costs, through the real Bolt app with signed requests: an admin, a
scoped member, a guest and another workspace's user, by slash command, mention, DM and
Share. Identities come from users.info / usergroups.users.list / auth.test on the fake Web
API, keyed by the signed user id only."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from bot.answers import AnswerService
from bot.people import People
from finops_bot.access import parse_access
from tests.conftest import TODAY
from tests.handlers.test_slack_scenarios import (  # noqa: F401
    Slack,
    assert_valid_blocks,
    demo_db,
    rules_module,
    slash_fields,
)

POLICY = parse_access(
    {
        "mode": "scoped",
        "admins": ["U0ADMIN"],
        "contact": "#finops-help",
        "grants": [
            {"channel": "C0NLP", "teams": ["nlp"]},
            {"usergroup": "S0VISION", "teams": ["vision"]},
            {"user": "U0GUEST", "projects": ["bert-training"]},
        ],
    }
)
USERS = {
    "U0ADMIN": {"team_id": "T111"},
    "U0BOB": {"team_id": "T111"},
    "U0GUEST": {"team_id": "T111", "is_restricted": True},
    "U0EXT": {"team_id": "T999"},  # a Slack Connect user from another organisation
}
TOTAL = "total spend last month"


@pytest.fixture
def slack(demo_db):  # noqa: F811
    s = Slack(demo_db)
    fake = s.fake
    fake.answers["/api/auth.test"] = lambda body: {"ok": True, "team_id": "T111"}
    fake.answers["/api/users.info"] = lambda body: (
        {"ok": True, "user": {"id": body["user"], **USERS[body["user"]]}}
        if body["user"] in USERS
        else {"ok": False, "error": "user_not_found"}
    )
    fake.answers["/api/usergroups.users.list"] = lambda body: {
        "ok": True,
        "users": ["U0BOB"] if body["usergroup"] == "S0VISION" else [],
    }
    client = WebClient(token="xoxb-test", base_url=fake.url + "/api/")
    people = People(lambda: client)
    s.answers = s.deps.answers = AnswerService(
        demo_db, "EffectiveCost", today=lambda: TODAY, people=people, access=POLICY
    )
    yield s
    s.close()


def slash(slack, user: str, text: str, channel: str = "C0NLP") -> dict:
    fields = {**slash_fields(text, slack.fake.url), "user_id": user, "channel_id": channel}
    status, body = slack.post(urlencode(fields))
    assert status == 200
    return body


def header(blocks: list[dict]) -> str:
    first = blocks[0]
    return first["text"]["text"]


def posted(slack, count: int) -> dict:
    return slack.fake.wait_for("/api/chat.postMessage", count)[count - 1]["body"]


def mention(slack, user: str, text: str, n: int) -> dict:
    ts = f"1700000000.{n:06d}"
    event = {"type": "app_mention", "user": user, "channel": "C0NLP", "ts": ts,
             "text": f"<@UBOT> {text}"}  # fmt: skip
    assert slack.event(event)[0] == 200
    return posted(slack, n)


def dm(slack, user: str, text: str, n: int) -> dict:
    event = {"type": "message", "channel_type": "im", "channel": f"D{user}", "user": user,
             "text": text, "ts": f"1700000001.{n:06d}"}  # fmt: skip
    assert slack.event(event)[0] == 200
    return posted(slack, n)


def share(slack, user: str, question: str, n: int) -> dict:
    payload = {
        "type": "block_actions",
        # a client can write any name; only the signed id counts
        "user": {"id": user, "name": "U0ADMIN", "team_id": "T111"},
        "team": {"id": "T111"},
        "channel": {"id": "C0NLP"},
        "api_app_id": "A111",
        "response_url": f"{slack.fake.url}/actions/T111/{n}/resp",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "is_ephemeral": True},
        "actions": [
            {
                "type": "button",
                "action_id": "finops_share",
                "value": json.dumps({"q": question, "d": TODAY.isoformat()}),
                "block_id": "b",
                "action_ts": "1700000000.1",
            }
        ],
    }
    assert slack.post(urlencode({"payload": json.dumps(payload)}))[0] == 200
    return slack.fake.wait_for(f"/actions/T111/{n}/resp")[0]["body"]


def test_slash_commands_answer_with_the_askers_grants(slack):
    assert header(slash(slack, "U0ADMIN", TOTAL)["blocks"]) == "All spend · last month"
    bob = slash(slack, "U0BOB", TOTAL)  # his group's team and the channel's
    assert header(bob["blocks"]) == "All spend in scope (team nlp or vision) · last month"
    assert "Scope: team nlp or vision" in json.dumps(bob["blocks"])
    assert_valid_blocks(bob["blocks"])
    guest = slash(slack, "U0GUEST", TOTAL)  # only the grant that names them
    assert header(guest["blocks"]) == "All spend in scope (project bert-training) · last month"
    external = slash(slack, "U0EXT", TOTAL)
    text = json.dumps(external["blocks"])
    assert "outside what you may see" in text and "#finops-help" in text and "$" not in text
    # the signed ids were looked up, nothing else
    looked_up = {c["body"]["user"] for c in slack.fake.calls if c["path"] == "/api/users.info"}
    assert looked_up == {"U0ADMIN", "U0BOB", "U0GUEST", "U0EXT"}


def test_a_guest_or_an_outsider_cannot_see_another_project(slack):
    for user in ("U0GUEST", "U0EXT"):
        body = slash(slack, user, "project llm-finetune last month")
        assert "$" not in json.dumps(body["blocks"]) and "llm-finetune" not in json.dumps(
            body["blocks"]
        ).replace("project llm-finetune last month", "")
    bob = slash(slack, "U0BOB", "project speech-asr last month")
    assert "outside what you may see" in json.dumps(bob["blocks"])
    assert "Project llm-finetune" in header(
        slash(slack, "U0BOB", "llm-finetune last month")["blocks"]
    )


def test_mentions_show_the_channels_grant_met_with_the_askers(slack):
    admin = mention(slack, "U0ADMIN", TOTAL, 1)
    assert header(admin["blocks"]) == "All spend in scope (team nlp) · last month"
    bob = mention(slack, "U0BOB", TOTAL, 2)  # never his vision grant in the channel
    assert header(bob["blocks"]) == "All spend in scope (team nlp) · last month"
    guest = mention(slack, "U0GUEST", TOTAL, 3)  # the channel's grant met with theirs,
    shown = header(guest["blocks"])  # named by the channel's only (never their own grant)
    assert shown == "All spend in scope (team nlp, as far as the asker may see) · last month"
    assert "Scope: team nlp, as far as the asker may see" in json.dumps(guest["blocks"])
    external = mention(slack, "U0EXT", TOTAL, 4)
    assert "outside what this channel may see" in json.dumps(external["blocks"])
    untagged = mention(slack, "U0ADMIN", "untagged spend last month", 5)
    assert "untagged spend is for admins only" in json.dumps(untagged["blocks"])


def test_direct_messages_show_the_users_own_grants(slack):
    assert header(dm(slack, "U0ADMIN", TOTAL, 1)["blocks"]) == "All spend · last month"
    bob = dm(slack, "U0BOB", TOTAL, 2)  # his group's, not the channel's he may be in
    assert header(bob["blocks"]) == "All spend in scope (team vision) · last month"
    guest = dm(slack, "U0GUEST", TOTAL, 3)
    assert header(guest["blocks"]) == "All spend in scope (project bert-training) · last month"
    external = dm(slack, "U0EXT", TOTAL, 4)
    assert "outside what you may see" in json.dumps(external["blocks"])


def test_share_posts_only_what_the_channel_may_see_and_refusals_stay_private(slack):
    bob = share(slack, "U0BOB", TOTAL, 1)
    assert bob["response_type"] == "in_channel"
    assert header(bob["blocks"]) == "All spend in scope (team nlp) · last month"
    guest = share(slack, "U0GUEST", TOTAL, 2)
    assert guest["response_type"] == "in_channel"
    assert "team nlp, as far as the asker may see" in header(guest["blocks"])
    external = share(slack, "U0EXT", TOTAL, 3)  # its payload's name says U0ADMIN
    assert external["response_type"] == "ephemeral"
    assert "outside what this channel may see" in json.dumps(external)
    admin = share(slack, "U0ADMIN", "team vision last month", 4)  # fine in a DM, not here
    assert admin["response_type"] == "ephemeral" and "$" not in json.dumps(admin)


def test_an_unreachable_slack_api_fails_closed(slack):
    slack.fake.answers["/api/users.info"] = lambda body: {"ok": False, "error": "fatal_error"}
    slack.fake.answers["/api/auth.test"] = lambda body: {"ok": False, "error": "fatal_error"}
    body = slash(slack, "U0ADMIN", TOTAL)
    assert "outside what you may see" in json.dumps(body["blocks"])
    time.sleep(0.05)
