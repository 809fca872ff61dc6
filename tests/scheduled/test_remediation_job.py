"""The remediation jobs: a tick sweeps and sends each new proposal's card to its owner's DM
(recording where, for chat.update), nobody twice; expiry redraws stored cards without
buttons; at start, a proposal a previous process left executing is read back from the
cloud and its card redrawn; an owner Slack does not know falls back to the approvers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.remediation import Remediation
from finops_bot.access import AccessPolicy
from finops_bot.demo_fleet import load_fleet
from finops_bot.gpu.prices import PriceBook
from finops_bot.remediation.demo_cloud import DemoCloud
from finops_bot.remediation.rules import parse_remediation
from finops_bot.store import connect
from finops_bot.store import proposals as store
from scheduled import remediation
from tests.conftest import NOW

USERS = {"alice@acme.ai": "U0ALICE", "bob@acme.ai": "U0BOB", "heidi@acme.ai": "U0HEIDI"}


class Slack:
    def __init__(self):
        self.posts, self.updates = [], []

    def post(self, user, text, blocks):
        self.posts.append((user, blocks))
        return f"D{user}", f"17000.{len(self.posts):04d}"

    def update(self, channel, ts, text, blocks):
        self.updates.append((channel, ts, blocks))


@pytest.fixture
def service(db_path):
    db = connect(db_path)
    load_fleet(db, NOW)
    db.close()
    rules = parse_remediation({"propose_after_minutes": 30, "approvers": ["U0OPS"]})
    return Remediation(db_path, rules, AccessPolicy(), None, PriceBook(),
                       clouds=DemoCloud.of_demo_fleet())  # fmt: skip


def test_a_tick_sends_each_new_card_to_its_owner_once(service, db_path):
    slack = Slack()
    remediation.tick(service, NOW, slack.post, slack.update, USERS.get)
    sent = sorted(user for user, _ in slack.posts)
    # carol is unknown → the approver; the two Spot cards go to the approver first
    assert sent == ["U0ALICE", "U0BOB", "U0HEIDI", "U0OPS", "U0OPS", "U0OPS"]
    db = connect(db_path)
    placed = {(p.action, p.card_channel) for p in store.listed(db)}
    db.close()
    assert placed == {("stop", "DU0ALICE"), ("stop", "DU0BOB"), ("stop", "DU0HEIDI"),
                      ("stop", "DU0OPS"), ("spot", "DU0OPS")}  # fmt: skip
    remediation.tick(service, NOW + timedelta(minutes=2), slack.post, slack.update, USERS.get)
    assert len(slack.posts) == 6  # one open proposal each: nothing sent twice


def test_expiry_redraws_the_stored_cards_without_buttons(service, db_path):
    slack = Slack()
    remediation.tick(service, NOW, slack.post, slack.update, USERS.get)
    later = NOW + timedelta(hours=25)
    db = connect(db_path)
    with db.conn:  # the fleet stays as it was (idle), only time passes
        db.execute("UPDATE proposals SET expires_at = ?", [store.stamp(NOW)])
    db.close()
    remediation.redraw(service, service.housekeeping(later), later, slack.update)
    assert len(slack.updates) == 6
    for _, _, blocks in slack.updates:
        assert [b["type"] for b in blocks] == ["section"]
        assert "*Expired*" in blocks[0]["text"]["text"]


def test_at_start_an_interrupted_stop_is_read_back(service, db_path):
    slack = Slack()
    remediation.tick(service, NOW, slack.post, slack.update, USERS.get)
    db = connect(db_path)
    (alice,) = [p for p in store.listed(db) if p.owner == "alice@acme.ai" and p.action == "stop"]
    with db.conn:  # the process died after the cloud took the stop
        db.execute("UPDATE proposals SET state = 'executing' WHERE id = ?", [alice.id])
    db.close()
    service.clouds(None).find(remediation_target(alice)).state = "stopped"

    class Scheduler:
        jobs = []

        def add_job(self, *args, **kwargs):
            self.jobs.append(kwargs["id"])

    remediation.register(Scheduler(), service, lambda: NOW, slack.post, slack.update, USERS.get)
    db = connect(db_path)
    assert store.get(db, alice.id).state == "succeeded"
    events = [e["event"] for e in store.audit_events(db, alice.id)]
    db.close()
    assert events[-1] == "recovered succeeded"
    assert [u[0] for u in slack.updates] == ["DU0ALICE"]
    assert Scheduler.jobs == ["remediation"]


def remediation_target(p):
    from finops_bot.remediation.sweep import target_of_proposal

    return target_of_proposal(p)
