"""A digest posted through the real WebClient against the fake Web API: the chart uploaded
the external-upload way without a channel and shown by its file id; not_in_channel says to
invite the bot and is kept in the ledger (and `status`); Block Kit within Slack's limits."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient
from slack_sdk.models.blocks import Block

from bot.digest_commands import slack_sender, slack_uploader
from finops_bot.access import AccessPolicy
from finops_bot.digest.rules import parse_digest_rules
from finops_bot.store import connect, ledger
from scheduled import digests
from tests.fake_slack import FakeSlack
from tests.scheduled.test_digests_job import demo_file  # noqa: F401

AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture
def fake():
    f = FakeSlack()
    yield f
    f.stop()


def test_the_chart_goes_up_without_a_channel_and_into_the_message(fake, demo_file, tmp_path):  # noqa: F811
    cache = tmp_path / "c.db"
    shutil.copy(demo_file, cache)
    client = WebClient(token="xoxb-test", base_url=fake.url + "/api/")
    (spec,) = parse_digest_rules([{"name": "all", "channel": "C0ALL"}], None, None).digests
    ts = digests.post(cache, spec, "2026-11-22", AT, slack_sender(client), access=AccessPolicy(),
                      measure="EffectiveCost", upload=slack_uploader(client))  # fmt: skip
    assert ts == "1700.0001"
    assert fake.paths()[:2] == ["/api/files.getUploadURLExternal", "/upload/v1/"]
    (complete,) = fake.completed
    assert "channel_id" not in complete and "channels" not in complete  # never shared
    message = fake.wait_for("/api/chat.postMessage")[0]["body"]
    assert message["channel"] == "C0ALL"
    image = message["blocks"][1]
    assert image["type"] == "image" and image["slack_file"]["id"].startswith("F")
    assert "by project" in image["alt_text"]
    for block in message["blocks"]:
        Block.parse(block).validate_json()


def test_not_in_channel_is_kept_with_its_fix(fake, demo_file, tmp_path):  # noqa: F811
    cache = tmp_path / "c.db"
    shutil.copy(demo_file, cache)
    fake.force("/api/chat.postMessage", 200, {"ok": False, "error": "not_in_channel"})
    client = WebClient(token="xoxb-test", base_url=fake.url + "/api/")
    (spec,) = parse_digest_rules([{"name": "all", "channel": "C0ALL"}], None, None).digests
    assert digests.post(cache, spec, "2026-11-22", AT, slack_sender(client),
                        access=AccessPolicy(), measure="EffectiveCost") is None  # fmt: skip
    db = connect(cache)
    ((_, target, _, error),) = ledger.problems(db, "2026-11-01")
    assert target == "C0ALL" and "invite it there (/invite @finops-bot)" in error
    db.close()
