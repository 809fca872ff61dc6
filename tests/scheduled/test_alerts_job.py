"""Urgent alerts: an open anomaly over anomaly_over and a node whose idle dollars pass
idle_gpu_dollars_over are posted to [alerts] channel and DMed to the owner, once per
episode; an owner Slack does not know is named, not dropped."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime

from finops_bot.anomalies.rules import AnomalyRules
from finops_bot.anomalies.run import find, save
from finops_bot.demo_fleet import load_fleet
from finops_bot.digest.rules import parse_digest_rules
from finops_bot.store import connect
from scheduled import alerts
from tests.scheduled.test_digests_job import Recorder, demo_file  # noqa: F401

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
ROUTING = parse_digest_rules(
    None,
    {"llm-finetune": {"owner": "bob@acme.ai"}},  # [projects] routing (the cache has no owners)
    {"anomaly_over": 1000, "idle_gpu_dollars_over": 50, "channel": "C0OPS"},
)


def cache_at(demo_file, tmp_path):  # noqa: F811
    path = tmp_path / "c.db"
    shutil.copy(demo_file, path)
    db = connect(path)
    save(db, find(db, AnomalyRules(), date(2026, 11, 2)), AnomalyRules().dimensions, NOW,
         "EffectiveCost")  # the spike is open on its day  # fmt: skip
    load_fleet(db, NOW)
    db.close()
    return path


def test_crossings_are_posted_once_and_owners_told(demo_file, tmp_path):  # noqa: F811
    path = cache_at(demo_file, tmp_path)
    send = Recorder()
    users = {"bob@acme.ai": "U0BOB"}
    posted = alerts.check(path, ROUTING, NOW, send, users.get)
    assert any(k.startswith("anomaly:") for k in posted)
    assert [k for k in posted if k.startswith("idle:")] == [
        "idle:i-0c4b2d3e5f6a70002:2026-11-03T11:20"  # the stalled p5: $65 so far
    ]
    channel = [t for c, t in send.sent if c == "C0OPS"]
    assert any("llm-finetune" in t and "owner <@U0BOB>" in t for t in channel)
    assert {c for c, _ in send.sent} == {"C0OPS", "U0BOB"}  # and DMs to the owner
    again = alerts.check(path, ROUTING, NOW, send, users.get)
    assert again == [] and len(send.sent) == len(channel) * 2  # once per episode


def test_an_unknown_owner_is_named(demo_file, tmp_path):  # noqa: F811
    path = cache_at(demo_file, tmp_path)
    send = Recorder()
    alerts.check(path, ROUTING, NOW, send, lambda email: None)
    assert all(c == "C0OPS" for c, _ in send.sent)
    assert any("owner bob@acme.ai (not found in Slack)" in t for _, t in send.sent)


def test_a_scoped_alerts_channel_gets_only_what_its_grant_covers(demo_file, tmp_path):  # noqa: F811
    from finops_bot.access import parse_access

    path = cache_at(demo_file, tmp_path)
    grant = {"channel": "C0OPS", "projects": ["bert-training"]}
    policy = parse_access({"mode": "scoped", "grants": [grant]})
    send = Recorder()
    alerts.check(path, ROUTING, NOW, send, {"bob@acme.ai": "U0BOB"}.get, access=policy)
    assert send.sent == []  # llm-finetune's spike and stalled node are outside the grant
