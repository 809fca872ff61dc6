"""Who a Slack user is: [people] first, else users.info over the real WebClient against the
fake Web API, cached an hour; and "my spend" in /finops, answered for the signed user."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.answers import AnswerService
from bot.people import TTL_SECONDS, People
from tests.fake_slack import FakeSlack
from tests.handlers.test_slack_scenarios import Slack, demo_db, rules_module  # noqa: F401


def test_the_table_first_then_users_info_cached_an_hour():
    fake = FakeSlack()
    now = [0.0]
    try:
        client = WebClient(token="xoxb-test", base_url=fake.url + "/api/")
        people = People(lambda: client, {"Alice@acme.ai": "U0ALICE"}, clock=lambda: now[0])
        assert people.email_of("U0ALICE") == "alice@acme.ai"
        assert "/api/users.info" not in fake.paths()
        fake.force("/api/users.info", 200, {"ok": True, "user": {"profile": {"email": "b@x.io"}}})
        assert people.email_of("U0BOB") == "b@x.io"
        assert people.email_of("U0BOB") == "b@x.io"  # cached
        assert fake.paths().count("/api/users.info") == 1
        now[0] += TTL_SECONDS + 1
        fake.force("/api/users.info", 200, {"ok": False, "error": "user_not_found"})
        assert people.email_of("U0BOB") is None  # looked up again, and a failure is None
        assert fake.calls[-1]["body"]["user"] == "U0BOB"
        fake.force("/api/users.lookupByEmail", 200, {"ok": True, "user": {"id": "U0CAROL"}})
        assert people.user_of("carol@acme.ai") == "U0CAROL"
        assert people.user_of("alice@acme.ai") == "U0ALICE"
    finally:
        fake.stop()


def test_my_spend_is_the_signed_users(demo_db):  # noqa: F811
    slack = Slack(demo_db)
    try:
        people = People(None, {"alice@acme.ai": "U111"})  # U111 signs slash_fields' requests
        slack.answers = slack.deps.answers = AnswerService(
            demo_db, "EffectiveCost", today=slack.answers.today, people=people
        )
        status, body = slack.command("my spend last month")
        assert status == 200
        assert body["blocks"][0]["text"]["text"].startswith("Owner alice@acme.ai")
        nobody = AnswerService(demo_db, "EffectiveCost", today=slack.answers.today)
        slack.answers = slack.deps.answers = nobody
        status, body = slack.command("my spend last month")
        assert "say owner NAME" in body["text"]
    finally:
        slack.close()


def test_identity_from_users_info_groups_and_the_installed_team():
    fake = FakeSlack()
    now = [0.0]
    users = {
        "U0BOB": {"team_id": "T1"},
        "U0GUEST": {"team_id": "T1", "is_ultra_restricted": True},
        "U0EXT": {"team_id": "T2"},
        "U0STRANGER": {"team_id": "T1", "is_stranger": True},
    }
    fake.answers["/api/auth.test"] = lambda body: {"ok": True, "team_id": "T1"}
    fake.answers["/api/users.info"] = lambda body: {"ok": True, "user": users[body["user"]]}
    fake.answers["/api/usergroups.users.list"] = lambda body: {"ok": True, "users": ["U0BOB"]}
    try:
        client = WebClient(token="xoxb-test", base_url=fake.url + "/api/")
        people = People(lambda: client, clock=lambda: now[0])
        bob = people.identity("U0BOB", ["S0NLP"])
        assert bob.groups == {"S0NLP"} and not bob.outsider
        assert people.identity("U0GUEST", ["S0NLP"]).guest
        assert people.identity("U0EXT").external and people.identity("U0STRANGER").external
        people.identity("U0BOB", ["S0NLP"])  # all cached
        assert fake.paths().count("/api/auth.test") == 1
        assert fake.paths().count("/api/usergroups.users.list") == 1
        assert fake.paths().count("/api/users.info") == 4
        # Slack down: unknown, so external (fail closed), and asked again after a minute
        fake.answers["/api/users.info"] = lambda body: {"ok": False, "error": "fatal_error"}
        assert people.identity("U0NEW").external
        assert people.identity("U0NEW").external
        assert fake.paths().count("/api/users.info") == 5
        now[0] += 61
        people.identity("U0NEW")
        assert fake.paths().count("/api/users.info") == 6
        assert People(None).identity("U0BOB").external  # no Web API at all
    finally:
        fake.stop()
