"""Charts in Slack, end to end: the real Bolt app behind the real server, signed requests,
and the fake Web API taking files_upload_v2's three steps. Series answers are hand-built
(the answer service's ask monkeypatched) until the engine answers them itself."""

from __future__ import annotations

import io
import json
import time

import pytest

import handlers.uploads
from tests.handlers import test_slack_scenarios as scenarios
from tests.handlers.test_slack_scenarios import Slack, assert_valid_blocks, click
from tests.series import series_answer

demo_db, rules_module = scenarios.demo_db, scenarios.rules_module  # the module's fixtures
UPLOAD_STEPS = [
    "/api/files.getUploadURLExternal",
    "/upload/v1/",
    "/api/files.completeUploadExternal",
]


@pytest.fixture
def slack(demo_db, monkeypatch):
    s = Slack(demo_db)
    real = s.answers.ask

    def ask(question, today=None, user_id=None, audience=None):
        if question.startswith("daily"):
            return series_answer(question)
        return real(question, today)

    monkeypatch.setattr(s.answers, "ask", ask)
    monkeypatch.setattr(handlers.uploads, "RETRY_DELAYS", (0.05, 0.05))
    yield s
    s.close()


def mention(slack: Slack, text: str, ts: str = "1700000000.000100") -> None:
    event = {"type": "app_mention", "user": "U111", "channel": "C111", "ts": ts,
             "text": f"<@UBOT> {text}"}  # fmt: skip
    assert slack.event(event)[0] == 200


def images(blocks: list[dict]) -> list[dict]:
    return [b for b in blocks if b["type"] == "image"]


def assert_uploaded_privately(slack: Slack, file_id: str) -> None:
    """files_upload_v2's three steps, the bytes a PNG, and completed without a channel."""
    from PIL import Image

    paths = slack.fake.paths()
    assert [p for p in paths if p in UPLOAD_STEPS][:3] == UPLOAD_STEPS
    png = slack.fake.uploads[file_id]
    assert Image.open(io.BytesIO(png)).size == (960, 432)
    done = next(c for c in slack.fake.completed if c["files"][0]["id"] == file_id)
    assert not done.get("channel_id") and not done.get("channels")  # private to the bot
    assert done["files"][0]["title"].startswith("Daily spend")
    step1 = slack.fake.wait_for("/api/files.getUploadURLExternal")[0]["body"]
    assert step1["filename"].endswith(".png") and int(step1["length"]) == len(png)
    assert step1["alt_txt"].startswith("Line chart of Daily spend")


def test_finops_series_shows_a_sparkline_and_a_show_chart_button(slack):
    status, body = slack.command("daily spend last 7 days")
    assert status == 200 and body["response_type"] == "ephemeral"
    assert_valid_blocks(body["blocks"])
    text = json.dumps(body["blocks"], ensure_ascii=False)
    assert "▅▃▅█▁▂▆" in text and "min $60.00" in text
    buttons = body["blocks"][-1]["elements"]
    share, chart = buttons[0], buttons[1]
    assert chart["action_id"] == "finops_show_chart" and chart["text"]["text"] == "Show chart"
    assert chart["value"] == share["value"]
    assert json.loads(chart["value"]) == {"q": "daily spend last 7 days", "d": "2026-11-22"}
    assert not images(body["blocks"])
    time.sleep(0.2)
    assert not [p for p in slack.fake.paths() if p in UPLOAD_STEPS]  # nothing uploaded yet


def test_show_chart_uploads_and_answers_ephemerally_with_the_image(slack):
    _, answer = slack.command("daily spend last 7 days")
    button = answer["blocks"][-1]["elements"][1]
    began = time.monotonic()
    status, _ = slack.post(click(slack, button, "7"))
    assert status == 200 and time.monotonic() - began < 1.0  # acked before the upload
    reply = slack.fake.wait_for("/actions/T111/7/resp")[0]["body"]
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    (image,) = images(reply["blocks"])
    file_id = image["slack_file"]["id"]
    assert_uploaded_privately(slack, file_id)
    assert image["alt_text"].startswith("Line chart of Daily spend")
    assert "url" not in image["slack_file"] and "image_url" not in image
    assert_valid_blocks(reply["blocks"])


def test_a_mention_of_a_series_uploads_then_answers_in_thread_with_the_image(slack):
    mention(slack, "daily spend last 7 days")
    post = slack.fake.wait_for("/api/chat.postMessage")[0]
    body = post["body"]
    assert body["channel"] == "C111" and body["thread_ts"] == "1700000000.000100"
    (image,) = images(body["blocks"])
    assert_uploaded_privately(slack, image["slack_file"]["id"])
    paths = slack.fake.paths()
    assert paths.index("/api/files.completeUploadExternal") < paths.index("/api/chat.postMessage")
    assert "Show chart" not in json.dumps(body["blocks"])  # visible messages carry the image
    assert_valid_blocks(body["blocks"])


def test_a_direct_message_of_a_series_carries_the_image(slack):
    slack.event({"type": "message", "channel_type": "im", "channel": "D111", "user": "U111",
                 "text": "daily spend last 7 days", "ts": "1700000000.000200"})  # fmt: skip
    body = slack.fake.wait_for("/api/chat.postMessage")[0]["body"]
    assert body["channel"] == "D111" and images(body["blocks"])


def test_the_share_button_posts_in_channel_with_the_image(slack):
    _, answer = slack.command("daily spend last 7 days")
    share = answer["blocks"][-1]["elements"][0]
    slack.post(click(slack, share, "8"))
    body = slack.fake.wait_for("/actions/T111/8/resp")[0]["body"]
    assert body["response_type"] == "in_channel"
    (image,) = images(body["blocks"])
    assert_uploaded_privately(slack, image["slack_file"]["id"])
    assert body["blocks"][0] == answer["blocks"][0]
    assert body["blocks"][-1]["elements"][0]["text"].startswith("Shared by <@U111>")
    assert "Show chart" not in json.dumps(body["blocks"])


@pytest.mark.parametrize(
    "fail",
    [
        ("/api/files.getUploadURLExternal", 200, {"ok": False, "error": "missing_scope"}),
        ("/upload/v1/", 500, {"error": "boom"}),
        ("/api/files.completeUploadExternal", 200, {"ok": False, "error": "internal_error"}),
    ],
    ids=["no scope", "upload 500", "complete fails"],
)
def test_an_upload_failure_still_posts_the_answer_without_the_image(slack, fail, caplog):
    slack.fake.force(*fail)
    mention(slack, "daily spend last 7 days")
    body = slack.fake.wait_for("/api/chat.postMessage")[0]["body"]
    assert not images(body["blocks"])
    assert body["blocks"][0]["text"]["text"].startswith("Daily spend")
    assert "▅▃▅█▁▂▆" in json.dumps(body["blocks"], ensure_ascii=False)  # the sparkline stays
    assert any("could not upload the chart" in r.getMessage() for r in caplog.records)
    time.sleep(0.2)
    assert slack.fake.paths().count("/api/chat.postMessage") == 1


def test_an_image_not_yet_usable_is_tried_again(slack):
    refused = {"ok": False, "error": "invalid_blocks",
               "errors": ["invalid slack file [json-pointer:/blocks/3/slack_file]"]}  # fmt: skip
    slack.fake.force("/api/chat.postMessage", 200, refused)
    mention(slack, "daily spend last 7 days")
    posts = slack.fake.wait_for("/api/chat.postMessage", count=2)
    assert posts[0]["body"] == posts[1]["body"] and images(posts[1]["body"]["blocks"])


def test_an_image_slack_keeps_refusing_goes_without_it(slack):
    refused = {"ok": False, "error": "invalid_blocks"}
    for _ in range(3):
        slack.fake.force("/api/chat.postMessage", 200, refused)
    mention(slack, "daily spend last 7 days")
    posts = slack.fake.wait_for("/api/chat.postMessage", count=4)
    assert all(images(p["body"]["blocks"]) for p in posts[:3])
    assert not images(posts[3]["body"]["blocks"]) and posts[3]["body"]["blocks"]


def test_show_chart_when_the_upload_fails_says_so_in_one_line(slack):
    _, answer = slack.command("daily spend last 7 days")
    slack.fake.force("/api/files.getUploadURLExternal", 200, {"ok": False, "error": "ratelimited"})
    slack.post(click(slack, answer["blocks"][-1]["elements"][1], "9"))
    reply = slack.fake.wait_for("/actions/T111/9/resp")[0]["body"]
    assert reply["response_type"] == "ephemeral" and "chart could not be made" in reply["text"]
    assert "blocks" not in reply


def test_a_show_chart_button_with_a_bad_value_gets_one_line(slack):
    button = {"type": "button", "action_id": "finops_show_chart", "value": "not json"}
    slack.post(click(slack, button, "10"))
    reply = slack.fake.wait_for("/actions/T111/10/resp")[0]["body"]
    assert "too old" in reply["text"]


def test_answers_without_a_series_upload_nothing(slack):
    mention(slack, "top 3 projects last month")
    body = slack.fake.wait_for("/api/chat.postMessage")[0]["body"]
    assert body["blocks"][0]["text"]["text"] == "Top 3 projects · last month"
    assert not images(body["blocks"]) and not slack.fake.uploads
    assert not [p for p in slack.fake.paths() if p in UPLOAD_STEPS]


def test_end_to_end_the_engine_s_own_series(demo_db):
    """No monkeypatching: the engine answers the series, the chart goes up, the thread
    gets the image, and /finops gets the sparkline and the button."""
    s = Slack(demo_db)
    try:
        _, body = s.command("daily spend last 7 days")
        assert body["blocks"][0]["text"]["text"].startswith("Daily spend")
        labels = [e["text"]["text"] for e in body["blocks"][-1]["elements"]]
        assert labels[:2] == ["Share in channel", "Show chart"]
        assert any(c in json.dumps(body["blocks"], ensure_ascii=False) for c in "▁▂▃▄▅▆▇█")
        mention(s, "daily spend last 7 days")
        post = s.fake.wait_for("/api/chat.postMessage")[0]["body"]
        (image,) = images(post["blocks"])
        assert image["slack_file"]["id"] in s.fake.uploads
        assert_valid_blocks(post["blocks"])
    finally:
        s.close()
