"""The proposal cards' buttons ([Stop], [Snooze 4h], [Keep until…], [Start again]) through
the real Bolt app: requests signed with the signing secret, over the real HTTP server on
loopback, through Bolt's dispatch and the lazy listener; only the Slack Web API is fake
(tests/fake_slack.py: it records chat.update, response_url posts and DMs, and answers
users.info, auth.test and users.lookupByEmail). The cloud is the demo's in-memory cloud, the
cache the demo organisation with its GPU fleet at NOW, the proposals the real sweep's.

Who may act comes from the owner tag the cloud reports at click time (never an agent
label); a refusal goes only to the clicker and the card is untouched; every decision is
audited."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from bot.people import People
from bot.remediation import Remediation
from finops_bot.access import parse_access
from finops_bot.demo_fleet import NODES, _batch, load_fleet
from finops_bot.gpu.fleet import FleetRules, fleet
from finops_bot.gpu.heartbeat import store_batches, validate_batch
from finops_bot.gpu.prices import PriceBook
from finops_bot.remediation.demo_cloud import DemoCloud
from finops_bot.remediation.registry import KEEP_TAG
from finops_bot.remediation.rules import parse_remediation
from finops_bot.render.proposals import FIX_KEEP, FIX_SNOOZE, FIX_START, FIX_STOP, proposal_blocks
from finops_bot.store import connect
from finops_bot.store import proposals as store
from finops_bot.store.proposals import StoredProposal, stamp
from tests.conftest import NOW
from tests.handlers.test_slack_scenarios import Slack, demo_db, rules_module, slash_fields  # noqa: F401

ALICE_NODE = "i-0b3a1c2d4e5f60002"  # idle, alice@acme.ai's, aws 123456789012 us-east-1
BOB_NODE = "i-0c4b2d3e5f6a70002"  # stalled, bob@acme.ai's, the same AWS account
CAROL_NODE = "vision-a2-0"  # idle, carol@acme.ai's, gcp
HEIDI_NODE = "i-0d5c3e4f6a7b80000"  # memory held, heidi@acme.ai's, the same AWS account
USERS = {
    "U0ALICE": "alice@acme.ai",
    "U0BOB": "bob@acme.ai",
    "U0CAROL": "carol@acme.ai",
    "U0HEIDI": "heidi@acme.ai",
    "U0OPS": "ops@acme.ai",  # the [remediation] approver
    "U0EVE": "eve@acme.ai",  # nobody's owner, no approver
    "U0UMA": "Uma.Lee@acme.ai",  # an email that starts with a U
}
OWNERS = {ALICE_NODE: "U0ALICE", BOB_NODE: "U0BOB", CAROL_NODE: "U0CAROL", HEIDI_NODE: "U0HEIDI"}
CARD_TS = "1700.0001"
DEADLINE = 5.0


@pytest.fixture(scope="module")
def fleet_db(demo_db, tmp_path_factory):  # noqa: F811
    """The demo cache plus the demo fleet, an hour of heartbeats ending at NOW."""
    path = tmp_path_factory.mktemp("remediation") / "fleet.db"
    shutil.copy(demo_db, path)
    db = connect(path)
    load_fleet(db, NOW)
    db.close()
    return path


class Bed:
    """The app, the fake Web API, the demo cloud and the Remediation service over one cache,
    with the sweep's proposals."""

    def __init__(self, path, rules: dict, access: dict | None, before_sweep=None, owners=None):
        self.path = path
        if before_sweep:
            db = connect(path)
            before_sweep(db)
            db.close()
        self.slack = Slack(path)
        self.fake = self.slack.fake
        self.fake.answers["/api/auth.test"] = lambda body: {"ok": True, "team_id": "T111"}
        self.fake.answers["/api/users.info"] = lambda body: {
            "ok": True,
            "user": {
                "id": body["user"],
                "team_id": "T111",
                "profile": {"email": USERS.get(body["user"])},
            },
        }
        by_email = {e.lower(): u for u, e in USERS.items()}
        self.fake.answers["/api/users.lookupByEmail"] = lambda body: (
            {"ok": True, "user": {"id": by_email[body["email"].lower()]}}
            if body["email"].lower() in by_email
            else {"ok": False, "error": "users_not_found"}
        )
        client = WebClient(token="xoxb-test", base_url=self.fake.url + "/api/")
        self.cloud = DemoCloud.of_demo_fleet()
        for resource, owner in (owners or {}).items():  # owner tags as the sweep finds them
            self.instance(resource).tags["owner"] = owner
        self.service = Remediation(
            path,
            parse_remediation({"propose_after_minutes": 30, "approvers": ["U0OPS"], **rules}),
            parse_access(access),
            People(lambda: client),
            PriceBook(),
            clouds=self.cloud,
        )
        self.swept = self.service.sweep(NOW)
        self.cloud.calls.clear()  # the sweep's reads; each test sees the clicks' calls only
        self.slack.deps.remediation = self.service
        self.slack.deps.clock = lambda: NOW
        self._n = 0
        self._lock = threading.Lock()

    def proposal(self, resource: str) -> StoredProposal:
        db = connect(self.path)
        try:
            (p,) = store.listed(db, (), resource)
            return p
        finally:
            db.close()

    def audit(self, resource: str) -> list[dict]:
        db = connect(self.path)
        try:
            return store.audit_events(db, resource)
        finally:
            db.close()

    def instance(self, resource: str):
        return next(i for (_, rid), i in self.cloud.instances.items() if rid == resource)

    def click(
        self,
        user: str,
        blocks: list[dict],
        action: str,
        *,
        ephemeral: bool = False,
        selected_date: str | None = None,
    ) -> tuple[str, float]:
        """A signed block_actions click on the card's element ``action`` (its real value
        and action id); → (the response_url path, seconds the HTTP 200 took)."""
        with self._lock:
            self._n += 1
            n = self._n
        element = element_of(blocks, action)
        act = {**element, "block_id": blocks[-1]["block_id"], "action_ts": "1700000000.1"}
        if selected_date is not None:
            act["selected_date"] = selected_date
        payload = {
            "type": "block_actions",
            "user": {"id": user, "name": user.lower()},
            "team": {"id": "T111"},
            "channel": {"id": "D0CARDS"},
            "api_app_id": "A111",
            "response_url": f"{self.fake.url}/actions/T111/{n}/resp",
            "trigger_id": "1.2.3",
            "actions": [act],
        }
        if ephemeral:  # an ephemeral card: Slack sends no message, no ts to chat.update
            payload["container"] = {"type": "message", "is_ephemeral": True,
                                    "channel_id": "D0CARDS", "message_ts": "1700.0099"}  # fmt: skip
        else:
            payload["container"] = {"type": "message", "message_ts": CARD_TS,
                                    "channel_id": "D0CARDS", "is_ephemeral": False}  # fmt: skip
            payload["message"] = {"ts": CARD_TS, "text": "Idle GPU instance", "blocks": blocks}
        began = time.perf_counter()
        status, _ = self.slack.post(urlencode({"payload": json.dumps(payload)}))
        took = time.perf_counter() - began
        assert status == 200
        return f"/actions/T111/{n}/resp", took

    def reply(self, path: str) -> dict:
        """The one post to this click's response_url (waited for)."""
        (call,) = self.fake.wait_for(path, timeout=DEADLINE)
        return call["body"]

    def calls(self, path: str) -> list[dict]:
        return [c["body"] for c in self.fake.calls if c["path"] == path]

    def close(self) -> None:
        self.slack.close()


@pytest.fixture
def make(fleet_db, tmp_path):
    made: list[Bed] = []

    def build(rules=None, access=None, before_sweep=None, owners=None) -> Bed:
        path = tmp_path / f"cache{len(made)}.db"
        shutil.copy(fleet_db, path)
        bed = Bed(path, rules or {}, access, before_sweep, owners)
        made.append(bed)
        return bed

    yield build
    for bed in made:
        bed.close()


def card(p: StoredProposal) -> list[dict]:
    return proposal_blocks(p, NOW)


def element_of(blocks: list[dict], action: str) -> dict:
    actions = [b for b in blocks if b["type"] == "actions"]
    assert actions, f"the card has no buttons: {blocks}"
    return next(
        e
        for e in actions[-1]["elements"]
        if e["action_id"] == action or e["action_id"].startswith(action + ":")
    )


def card_text(blocks: list[dict]) -> str:
    return blocks[0]["text"]["text"]


def wait_until(check, what: str, timeout: float = DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"waited {timeout} s for {what}")


def events(bed: Bed, resource: str) -> list[str]:
    return [e["event"] for e in bed.audit(resource)]


def refused_plainly(bed: Bed, path: str) -> str:
    """The clicker's ephemeral refusal (the card stays as it was); its text."""
    reply = bed.reply(path)
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert "blocks" not in reply
    assert reply["text"].endswith("Nothing was changed.")
    return reply["text"]


def test_the_owner_stops_in_dry_run_and_the_card_shows_the_plan(make):
    bed = make()
    assert {p.resource_id for p in bed.swept.proposed if p.action == "stop"} == set(OWNERS)
    p = bed.proposal(ALICE_NODE)
    assert p.owner == "alice@acme.ai" and p.state == "proposed"
    bed.click("U0ALICE", card(p), FIX_STOP)
    (update,) = bed.fake.wait_for("/api/chat.update", timeout=DEADLINE)
    body = update["body"]
    assert body["channel"] == "D0CARDS" and body["ts"] == CARD_TS
    text = card_text(body["blocks"])
    assert "*Dry run* by <@U0ALICE>" in text
    assert f"would stop {ALICE_NODE} (p4d.24xlarge) in aws 123456789012 us-east-1" in text
    assert "permission probe: allowed" in text and "Nothing was executed" in text
    assert [b["type"] for b in body["blocks"]] == ["section", "actions"]
    ids = [e["action_id"].split(":")[0] for e in body["blocks"][1]["elements"]]
    assert ids == ["finops_fix_stop", "finops_fix_snooze", "finops_fix_keep"]  # stop: once live
    assert body["text"].endswith(": planned")
    q = bed.proposal(ALICE_NODE)
    assert q.state == "planned" and q.decided_by == "U0ALICE"
    assert q.result["dry_run"] is True and q.result["probe"]["allowed"] is True
    assert bed.cloud.calls == [("read", ALICE_NODE), ("probe stop", ALICE_NODE)]
    assert bed.instance(ALICE_NODE).state == "running"
    assert events(bed, ALICE_NODE) == ["proposed", "clicked", "approved", "planned"]
    assert bed.calls("/api/chat.postMessage") == []  # the owner acted: no DM
    assert not [c for c in bed.fake.calls if c["path"].startswith("/actions/")]


def test_real_mode_the_owner_stops_then_starts_again(make):
    bed = make({"dry_run": False})
    bed.click("U0ALICE", card(bed.proposal(ALICE_NODE)), FIX_STOP)
    (update,) = bed.fake.wait_for("/api/chat.update", timeout=DEADLINE)
    blocks = update["body"]["blocks"]
    assert "*Stopped* by <@U0ALICE>" in card_text(blocks)
    assert f"request demo-{bed.proposal(ALICE_NODE).id}-stop" in card_text(blocks)
    start = element_of(blocks, FIX_START)
    assert start["text"]["text"] == "Start again"
    assert bed.proposal(ALICE_NODE).state == "succeeded"
    assert bed.instance(ALICE_NODE).state == "stopped"
    assert ("stop", ALICE_NODE) in bed.cloud.calls

    bed.click("U0ALICE", blocks, FIX_START)  # the redrawn card: its fresh nonce
    updates = bed.fake.wait_for("/api/chat.update", 2, timeout=DEADLINE)
    assert "*Started again*" in card_text(updates[1]["body"]["blocks"])
    assert bed.proposal(ALICE_NODE).state == "restarted"
    assert bed.instance(ALICE_NODE).state == "running"
    assert [c for c in bed.cloud.calls if c[0] in ("stop", "start")] == [
        ("stop", ALICE_NODE),
        ("start", ALICE_NODE),
    ]
    assert events(bed, ALICE_NODE).count("executing") == 2


def test_an_approver_stops_someone_elses_and_the_owner_gets_a_dm(make):
    bed = make({"dry_run": False})
    bed.click("U0OPS", card(bed.proposal(ALICE_NODE)), FIX_STOP)
    (dm,) = bed.fake.wait_for("/api/chat.postMessage", timeout=DEADLINE)
    assert dm["body"]["channel"] == "U0ALICE"  # users.lookupByEmail of the owner tag
    assert dm["body"]["text"].startswith(f"<@U0OPS> acted on your instance {ALICE_NODE}")
    assert "Stopped" in dm["body"]["text"]
    assert bed.calls("/api/users.lookupByEmail") == [{"email": "alice@acme.ai"}]
    (update,) = bed.calls("/api/chat.update")
    assert "*Stopped* by <@U0OPS>" in card_text(update["blocks"])
    q = bed.proposal(ALICE_NODE)
    assert q.state == "succeeded" and q.decided_by == "U0OPS"
    assert bed.instance(ALICE_NODE).state == "stopped"
    approved = next(e for e in bed.audit(ALICE_NODE) if e["event"] == "approved")
    assert approved["actor_user_id"] == "U0OPS" and approved["actor_email"] == "ops@acme.ai"
    assert approved["after"] == {"role": "approver"}


def test_an_owner_tag_email_starting_with_u_gets_its_dm_by_email(make):
    """An owner tag "Uma.Lee@acme.ai" is an email (looked up), not a Slack user id."""
    bed = make(owners={HEIDI_NODE: "Uma.Lee@acme.ai"})
    assert bed.proposal(HEIDI_NODE).owner == "Uma.Lee@acme.ai"
    bed.click("U0OPS", card(bed.proposal(HEIDI_NODE)), FIX_SNOOZE)
    (dm,) = bed.fake.wait_for("/api/chat.postMessage", timeout=DEADLINE)
    assert dm["body"]["channel"] == "U0UMA"
    assert dm["body"]["text"].startswith(f"<@U0OPS> snoozed your instance {HEIDI_NODE}")


def claim_by_eve(db) -> None:
    """A heartbeat whose agent labels say eve@acme.ai owns alice's node."""
    node = next(n for n in NODES if n[0] == ALICE_NODE)
    batch = _batch(node, 60, NOW)
    batch["batch_id"] = "demo-claim-by-eve"
    batch["labels"] = {**batch["labels"], "owner": "eve@acme.ai"}
    assert store_batches(db, [(0, validate_batch(batch))], NOW) == [True]


def test_a_stranger_whose_agent_label_claims_the_node_is_refused(make):
    bed = make(before_sweep=claim_by_eve)
    db = connect(bed.path)
    (node,) = [n for n in fleet(db, NOW, PriceBook(), FleetRules()) if n.node == ALICE_NODE]
    db.close()
    assert node.owner == "eve@acme.ai"  # the label took: the fleet believes it
    p = bed.proposal(ALICE_NODE)
    assert p.owner == "alice@acme.ai"  # the proposal took the cloud's owner tag
    path, _ = bed.click("U0EVE", card(p), FIX_STOP)
    text = refused_plainly(bed, path)
    assert text.startswith("Only the resource's owner (its owner tag in the cloud) or an approver")
    assert "(alice@acme.ai)" in text
    assert bed.calls("/api/chat.update") == [] and bed.calls("/api/chat.postMessage") == []
    q = bed.proposal(ALICE_NODE)
    assert q.state == "proposed" and q.nonce == p.nonce and q.decided_by is None
    assert bed.cloud.calls == [("read", ALICE_NODE)]  # the owner tag, read now
    (refused,) = [e for e in bed.audit(ALICE_NODE) if e["event"] == "refused"]
    assert refused["actor_user_id"] == "U0EVE" and refused["actor_email"] == "eve@acme.ai"
    assert "only the resource's owner" in refused["error"]


def test_a_card_drawn_before_a_redraw_is_out_of_date(make):
    bed = make()
    old = card(bed.proposal(ALICE_NODE))
    db = connect(bed.path)
    bed.service.card(db, bed.proposal(ALICE_NODE), NOW)  # a newer card: a fresh nonce
    db.close()
    path, _ = bed.click("U0ALICE", old, FIX_STOP)
    assert refused_plainly(bed, path).startswith("This card is out of date; use the newest card")
    assert bed.calls("/api/chat.update") == []
    assert bed.proposal(ALICE_NODE).state == "proposed"
    assert bed.cloud.calls == []  # decided before the cloud is read


def test_an_expired_proposal_is_refused(make):
    bed = make()
    p = bed.proposal(ALICE_NODE)
    past = stamp(NOW - timedelta(hours=1))
    db = connect(bed.path)
    with db.conn:
        db.execute("UPDATE proposals SET expires_at = ? WHERE id = ?", [past, p.id])
    db.close()
    path, _ = bed.click("U0ALICE", card(p), FIX_STOP)
    text = refused_plainly(bed, path)
    assert text.startswith(f"This proposal expired at {past[:16]} UTC")
    assert bed.calls("/api/chat.update") == []
    assert bed.proposal(ALICE_NODE).state == "proposed"
    assert bed.cloud.calls == [] and bed.instance(ALICE_NODE).state == "running"


def test_a_resource_changed_since_the_proposal_is_superseded(make):
    bed = make({"dry_run": False})
    instance = bed.instance(ALICE_NODE)
    instance.target = dataclasses.replace(instance.target, type="p5.48xlarge")  # resized
    path, _ = bed.click("U0ALICE", card(bed.proposal(ALICE_NODE)), FIX_STOP)
    reply = bed.reply(path)
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert reply["text"].startswith("Not stopped: its type changed from p4d.24xlarge")
    (update,) = bed.fake.wait_for("/api/chat.update", timeout=DEADLINE)
    text = card_text(update["body"]["blocks"])
    assert "*Superseded*: its type changed from p4d.24xlarge to p5.48xlarge" in text
    assert "Nothing was done" in text
    assert bed.proposal(ALICE_NODE).state == "superseded"
    assert bed.cloud.calls == [("read", ALICE_NODE)]  # no probe, no stop
    assert instance.state == "running"
    assert events(bed, ALICE_NODE)[-1] == "superseded"


def test_the_kill_switch_refuses_and_calls_nothing_in_the_cloud(make):
    bed = make({"dry_run": False})
    p = bed.proposal(ALICE_NODE)
    bed.service.rules = parse_remediation({"enabled": False, "dry_run": False})
    path, _ = bed.click("U0ALICE", card(p), FIX_STOP)
    text = refused_plainly(bed, path)
    assert text.startswith("Remediation is switched off ([remediation] enabled = false)")
    assert bed.cloud.calls == []  # not even a read
    assert bed.calls("/api/chat.update") == []
    assert bed.proposal(ALICE_NODE).state == "proposed"
    assert bed.instance(ALICE_NODE).state == "running"


def test_the_hourly_limit_refuses_a_second_real_stop_in_the_account(make):
    bed = make({"dry_run": False, "max_actions_per_hour": 1})
    bed.click("U0ALICE", card(bed.proposal(ALICE_NODE)), FIX_STOP)
    bed.fake.wait_for("/api/chat.update", timeout=DEADLINE)
    assert bed.proposal(ALICE_NODE).state == "succeeded"
    path, _ = bed.click("U0BOB", card(bed.proposal(BOB_NODE)), FIX_STOP)  # same AWS account
    reply = bed.reply(path)
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert reply["text"] == (
        "Not stopped: the limit of 1 actions an hour in aws account 123456789012 is reached; "
        "try again later."
    )
    updates = bed.fake.wait_for("/api/chat.update", 2, timeout=DEADLINE)
    redrawn = updates[1]["body"]["blocks"]
    assert element_of(redrawn, FIX_STOP)["value"] == f"{bed.proposal(BOB_NODE).id}:" + (
        bed.proposal(BOB_NODE).nonce
    )  # its buttons back, with the newest nonce
    q = bed.proposal(BOB_NODE)
    assert q.state == "proposed" and q.decided_by is None
    assert bed.instance(BOB_NODE).state == "running"
    assert [c for c in bed.cloud.calls if c[0] == "stop"] == [("stop", ALICE_NODE)]
    assert events(bed, BOB_NODE)[-1] == "refused"


def test_a_double_click_executes_once(make):
    bed = make({"dry_run": False})
    blocks = card(bed.proposal(ALICE_NODE))
    barrier = threading.Barrier(2)

    def once(_):
        barrier.wait()
        return bed.click("U0ALICE", blocks, FIX_STOP)[0]

    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(once, range(2)))
    bed.fake.wait_for("/api/chat.update", timeout=DEADLINE)
    (loser,) = wait_until(
        lambda: [c["body"] for c in bed.fake.calls if c["path"] in paths], "the second reply"
    )
    assert loser["response_type"] == "ephemeral"
    assert re.match(r"Already (approved|being carried out|done)\b.*by <@U0ALICE>", loser["text"])
    time.sleep(0.1)
    assert len(bed.calls("/api/chat.update")) == 1
    assert [c for c in bed.cloud.calls if c[0] == "stop"] == [("stop", ALICE_NODE)]
    assert events(bed, ALICE_NODE).count("executing") == 1
    assert events(bed, ALICE_NODE).count("clicked") == 2
    assert bed.proposal(ALICE_NODE).state == "succeeded"


def test_snooze_in_dry_run_writes_no_keep_tag(make):
    bed = make()
    bed.click("U0ALICE", card(bed.proposal(ALICE_NODE)), FIX_SNOOZE)
    (update,) = bed.fake.wait_for("/api/chat.update", timeout=DEADLINE)
    assert "*Snoozed* by <@U0ALICE> until 2026-11-22 10:00 UTC" in card_text(
        update["body"]["blocks"]
    )
    q = bed.proposal(ALICE_NODE)
    assert q.state == "snoozed" and q.snoozed_until == stamp(NOW + timedelta(hours=4))
    assert KEEP_TAG not in bed.instance(ALICE_NODE).tags
    assert bed.cloud.calls == [("read", ALICE_NODE)]
    snoozed = bed.audit(ALICE_NODE)[-1]
    assert snoozed["event"] == "snoozed" and snoozed["after"]["tag"] == "dry-run"


def test_snooze_in_real_mode_writes_the_keep_tag(make):
    bed = make({"dry_run": False})
    bed.click("U0ALICE", card(bed.proposal(ALICE_NODE)), FIX_SNOOZE)
    bed.fake.wait_for("/api/chat.update", timeout=DEADLINE)
    assert bed.proposal(ALICE_NODE).state == "snoozed"
    until = int((NOW + timedelta(hours=4)).timestamp())
    assert bed.instance(ALICE_NODE).tags[KEEP_TAG] == str(until)
    assert bed.instance(ALICE_NODE).state == "running"
    assert ("keep", ALICE_NODE) in bed.cloud.calls


def test_keep_until_a_picked_day_snoozes_to_its_end(make):
    bed = make()
    blocks = card(bed.proposal(ALICE_NODE))
    picker = element_of(blocks, FIX_KEEP)
    assert picker["type"] == "datepicker" and "value" not in picker
    assert picker["action_id"] == f"{FIX_KEEP}:{bed.proposal(ALICE_NODE).id}:" + (
        bed.proposal(ALICE_NODE).nonce
    )
    bed.click("U0ALICE", blocks, FIX_KEEP, selected_date="2026-11-25")
    (update,) = bed.fake.wait_for("/api/chat.update", timeout=DEADLINE)
    assert "until 2026-11-26 00:00 UTC" in card_text(update["body"]["blocks"])
    q = bed.proposal(ALICE_NODE)
    assert q.state == "snoozed" and q.snoozed_until == "2026-11-26T00:00:00+00:00"


def test_keep_until_a_past_day_is_refused(make):
    bed = make()
    path, _ = bed.click(
        "U0ALICE", card(bed.proposal(ALICE_NODE)), FIX_KEEP, selected_date="2026-11-20"
    )
    text = refused_plainly(bed, path)
    assert text.startswith("Pick a day from today to 90 days ahead")
    assert bed.calls("/api/chat.update") == []
    assert bed.proposal(ALICE_NODE).state == "proposed"


def test_an_ephemeral_card_is_redrawn_through_its_response_url(make):
    bed = make()
    path, _ = bed.click("U0ALICE", card(bed.proposal(ALICE_NODE)), FIX_STOP, ephemeral=True)
    reply = bed.reply(path)
    assert reply["replace_original"] is True
    assert "*Dry run* by <@U0ALICE>" in card_text(reply["blocks"])
    assert bed.calls("/api/chat.update") == []  # an ephemeral message has no ts to update
    assert bed.calls("/api/chat.postEphemeral") == []
    assert bed.proposal(ALICE_NODE).state == "planned"


SCOPED = {
    "mode": "scoped",
    "grants": [
        {"user": "U0ALICE", "projects": ["bert-training"]},
        {"user": "U0EVE", "projects": ["recsys"]},
    ],
}


def test_finops_audit_shows_the_events_only_within_the_askers_scope(make):
    bed = make(access=SCOPED)
    bed.click("U0ALICE", card(bed.proposal(ALICE_NODE)), FIX_STOP)
    bed.fake.wait_for("/api/chat.update", timeout=DEADLINE)
    for n, user in enumerate(("U0ALICE", "U0EVE"), 1):
        fields = {**slash_fields(f"audit {ALICE_NODE}", bed.fake.url), "user_id": user}
        status, ack = bed.slack.post(urlencode(fields))
        assert status == 200 and ack["response_type"] == "ephemeral"
        bed.fake.wait_for("/commands/T111/1/resp", n, timeout=DEADLINE)
    mine, eves = [b["text"] for b in bed.calls("/commands/T111/1/resp")]
    assert mine.startswith(f"Remediation audit for {ALICE_NODE} (latest 4):")
    lines = mine.splitlines()[1:]
    assert [line.split("  ")[2] for line in lines] == ["proposed", "clicked", "approved", "planned"]
    assert "U0ALICE (alice@acme.ai)" in lines[1] and "dry-run" in lines[1]
    assert eves.startswith(f"No remediation events for {ALICE_NODE} that you may see.")


def test_eight_concurrent_clicks_are_each_acked_well_within_three_seconds(make):
    """Not a benchmark (bench/ measures p99): each ack comes before the work, in < 1 s."""
    bed = make()
    cards = {r: card(bed.proposal(r)) for r in OWNERS}
    clicks = [(OWNERS[r], cards[r], FIX_STOP) for r in OWNERS]
    clicks += [("U0EVE", cards[r], FIX_SNOOZE) for r in OWNERS]  # refused, each
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda c: bed.click(*c), clicks))
    slowest = max(took for _, took in results)
    assert slowest < 1.0, f"an ack took {slowest:.2f} s"
    bed.fake.wait_for("/api/chat.update", 4, timeout=DEADLINE)
    refusals = [path for path, _ in results[4:]]
    wait_until(lambda: sum(c["path"] in refusals for c in bed.fake.calls) == 4, "the 4 refusals")
    assert {r: (bed.proposal(r).state, bed.proposal(r).decided_by) for r in OWNERS} == {
        r: ("planned", user) for r, user in OWNERS.items()
    }


def test_a_forged_action_id_is_told_not_404(make):
    """An action id of ours the app does not know (forged, or a stale card's datepicker with
    a mangled id) is acked and told, never an unhandled 404."""
    bed = make()
    blocks = card(bed.proposal(ALICE_NODE))
    forged = json.loads(json.dumps(blocks))
    forged[-1]["elements"][0]["action_id"] = "finops_fix_nuke"
    path, _ = bed.click("U0ALICE", forged, "finops_fix_nuke")
    assert bed.reply(path)["text"] == "Sorry, that button is not known here."
    assert bed.proposal(ALICE_NODE).state == "proposed"
