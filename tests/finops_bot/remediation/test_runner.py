"""The runner (remediation.runner) on a real cache, the demo fleet and the demo's in-memory
cloud, with the proposals of a sweep: who may act (the owner tag read at click time,
approvers by id, group or email, admins; never a stranger, a guest or an outsider as an
approver, not even in open mode), dry-run that only reads and probes, the real stop, and
everything that refuses or ends a proposal: a changed fingerprint, expiry, an old card, the
kill switch, the hourly limit, a failed cloud call, expiry and recovery."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from finops_bot.access import AccessPolicy, Identity, parse_access
from finops_bot.demo_fleet import load_fleet
from finops_bot.errors import FinopsError
from finops_bot.gpu.prices import PriceBook
from finops_bot.remediation import demo_cloud
from finops_bot.remediation.demo_cloud import DemoCloud
from finops_bot.remediation.registry import KEEP_TAG, Outcome
from finops_bot.remediation.rules import parse_remediation
from finops_bot.remediation.runner import Actor, Runner
from finops_bot.remediation.sweep import sweep
from finops_bot.store import proposals as store
from finops_bot.store.proposals import stamp
from tests.conftest import NOW

IDLE = "i-0b3a1c2d4e5f60002"  # alice's, bert-training
MEMORY = "i-0d5c3e4f6a7b80000"  # heidi's, notebooks (the same AWS account as IDLE)
STALLED = "i-0c4b2d3e5f6a70002"  # bob's, llm-finetune (requires an approver below)
GCP_IDLE = "vision-a2-0"  # carol's, vision-research, another account

RAW = {
    "propose_after_minutes": 30,
    "dry_run": False,
    "approvers": ["U0OPS", "S0PLATFORM", "ops@acme.ai"],
    "projects": {"llm-finetune": {"require_approver": True}},
}
ALICE = Actor("U0ALICE", "alice@acme.ai", Identity("U0ALICE"))
BOB = Actor("U0BOB", "bob@acme.ai", Identity("U0BOB"))
EVE = Actor("U0EVE", "eve@acme.ai", Identity("U0EVE"))
OPS = Actor("U0OPS", None, Identity("U0OPS"))
GRACE = Actor("U0GRACE", "grace@acme.ai", Identity("U0GRACE", frozenset({"S0PLATFORM"})))
OLIVE = Actor("U0OLIVE", "Ops@Acme.ai", Identity("U0OLIVE"))  # the approvers' email
ADMIN = Actor("U0ADMIN", "root@acme.ai", Identity("U0ADMIN"))
OPEN_ACCESS = AccessPolicy()  # mode "open", the default
STRANGER_MESSAGE = (
    "Only the resource's owner (its owner tag in the cloud) or an approver may act "
    "({owner}); ask an approver. Nothing was changed."
)


class World:
    """A cache with the demo fleet, its cloud, a sweep's proposals and a runner."""

    def __init__(self, db, raw=RAW, access=OPEN_ACCESS):
        load_fleet(db, NOW)
        self.db, self.cloud = db, DemoCloud.of_demo_fleet()
        self.rules = parse_remediation(raw)
        made = sweep(db, NOW, self.rules, self.cloud, PriceBook()).proposed
        self.p = {p.resource_id: p for p in made}
        assert set(self.p) == {IDLE, MEMORY, STALLED, GCP_IDLE}
        self.runner = Runner(self.rules, access, self.cloud)
        self.cloud.calls.clear()

    def instance(self, name):
        return next(i for (_, n), i in self.cloud.instances.items() if n == name)

    def stop(self, name, actor, now=NOW, nonce=None, runner=None):
        p = self.p[name]
        return (runner or self.runner).stop(
            self.db, p.id, nonce or self.now_nonce(name), actor, now
        )

    def snooze(self, name, actor, now=NOW, until=None):
        return self.runner.snooze(self.db, self.p[name].id, self.now_nonce(name), actor, now, until)

    def start(self, name, actor, now=NOW):
        return self.runner.start(self.db, self.p[name].id, self.now_nonce(name), actor, now)

    def retag(self, name, owner) -> None:
        """The owner tag as if it had been so when the sweep proposed (same fingerprint)."""
        found = self.instance(name)
        found.tags["owner"] = owner
        with self.db.conn:
            self.db.execute(
                "UPDATE proposals SET fingerprint = ? WHERE id = ?",
                [found.observed().fingerprint(), self.p[name].id],
            )

    def now_nonce(self, name) -> str:
        return store.get(self.db, self.p[name].id).nonce

    def state(self, name) -> str:
        return store.get(self.db, self.p[name].id).state

    def events(self, name) -> list[str]:
        return [e["event"] for e in store.audit_events(self.db, self.p[name].id)]

    def audit(self, name) -> list[dict]:
        return store.audit_events(self.db, self.p[name].id)


@pytest.fixture
def world(db) -> World:
    return World(db)


@pytest.fixture
def dry(db) -> World:
    return World(db, {**RAW, "dry_run": True})


@pytest.fixture
def no_real_calls(monkeypatch):
    """A spy on every action's run: a dry run must never reach it."""
    ran = []

    def run(self, target, observed, request_id, **params):
        ran.append((self.name, target.id))
        raise AssertionError(f"{self.name} ran on {target.id} in dry-run")

    monkeypatch.setattr(demo_cloud._DemoAction, "run", run)
    return ran


# -- who may act ---------------------------------------------------------------------------
def test_the_owner_stops_their_own_instance(world):
    result = world.stop(IDLE, ALICE)
    assert result.done and result.message == f"Stopped {IDLE} (stop done in the demo cloud)."
    assert result.notify_owner is None  # the owner acted
    assert result.proposal.state == "succeeded" == world.state(IDLE)
    assert result.proposal.decided_by == "U0ALICE"
    assert result.proposal.result["request_id"] == f"demo-{world.p[IDLE].id}-stop"
    assert world.instance(IDLE).state == "stopped"
    assert world.cloud.calls == [("read", IDLE), ("stop", IDLE)]
    assert world.events(IDLE) == ["proposed", "clicked", "approved", "executing", "succeeded"]
    approved = world.audit(IDLE)[2]
    assert approved["after"] == {"role": "owner"} and approved["actor_email"] == "alice@acme.ai"
    done = world.audit(IDLE)[-1]
    assert done["mode"] == "real" and done["cloud_request_id"] == f"demo-{world.p[IDLE].id}-stop"
    assert done["after"]["state"] == "stopped"


def test_the_owner_is_matched_by_email_in_any_case_or_by_user_id(world):
    shouting = Actor("U0ALICE2", " ALICE@acme.AI ", Identity("U0ALICE2"))
    assert world.stop(IDLE, shouting).done
    world.retag(GCP_IDLE, "U0CAROL")  # a Slack user id as the owner tag
    carol = Actor("U0CAROL", None, Identity("U0CAROL"))
    assert world.stop(GCP_IDLE, carol).done
    assert world.audit(GCP_IDLE)[2]["after"] == {"role": "owner"}


def test_a_stranger_is_refused_and_nothing_changes(world):
    result = world.stop(IDLE, EVE)
    assert not result.done and result.proposal is None
    assert result.message == STRANGER_MESSAGE.format(owner="alice@acme.ai")
    assert world.state(IDLE) == "proposed" and world.instance(IDLE).state == "running"
    assert world.cloud.calls == [("read", IDLE)]
    events = world.audit(IDLE)
    assert [e["event"] for e in events] == ["proposed", "clicked", "refused"]
    assert events[-1]["actor_user_id"] == "U0EVE" and events[-1]["actor_email"] == "eve@acme.ai"
    assert "only the resource's owner" in events[-1]["error"]
    # she may not snooze it either
    assert not world.snooze(IDLE, EVE).done and world.state(IDLE) == "proposed"


def test_the_owner_is_read_from_the_cloud_at_click_time(world):
    world.instance(IDLE).tags["owner"] = "eve@acme.ai"  # handed over since the proposal
    refused = world.stop(IDLE, ALICE)
    assert refused.message == STRANGER_MESSAGE.format(owner="eve@acme.ai")
    del world.instance(IDLE).tags["owner"]
    untagged = world.stop(IDLE, ALICE)
    assert "(it has no owner tag)" in untagged.message and world.state(IDLE) == "proposed"


def test_open_access_mode_does_not_let_a_stranger_act(world):
    assert world.runner.access.open
    assert world.stop(IDLE, EVE).message == STRANGER_MESSAGE.format(owner="alice@acme.ai")
    # nor a stranger who may see everything in scoped mode
    access = parse_access({"mode": "scoped", "grants": [{"user": "U0EVE"}]})
    runner = Runner(world.rules, access, world.cloud)
    assert not world.stop(IDLE, EVE, runner=runner).done
    assert world.state(IDLE) == "proposed"


def test_an_unresolved_identity_is_refused(world):
    result = world.stop(IDLE, Actor("U0ALICE", "alice@acme.ai", None))
    assert result.message.startswith("Your Slack identity could not be checked")


@pytest.mark.parametrize("actor", [OPS, GRACE, OLIVE], ids=["by-id", "by-group", "by-email"])
def test_an_approver_acts_and_the_owner_is_told(world, actor):
    result = world.stop(IDLE, actor)
    assert result.done and world.state(IDLE) == "succeeded"
    assert world.instance(IDLE).state == "stopped"
    assert result.notify_owner == (
        f"<@{actor.user_id}> acted on your instance {IDLE} (p4d.24xlarge): {result.message}"
    )
    assert world.audit(IDLE)[2]["after"] == {"role": "approver"}


def test_a_project_that_requires_an_approver(world):
    own = world.stop(STALLED, BOB)
    assert not own.done and own.message.startswith(
        "This needs an approver (a switch to Spot, or a project that requires one); "
        "your own click is not enough (bob@acme.ai)"
    )
    assert world.state(STALLED) == "proposed" and world.instance(STALLED).state == "running"
    stopped = world.stop(STALLED, OPS)
    assert stopped.done and world.instance(STALLED).state == "stopped"
    assert stopped.notify_owner.startswith(f"<@U0OPS> acted on your instance {STALLED}")
    # other projects: the owner alone is enough
    assert world.stop(IDLE, ALICE).done


def test_the_owner_may_still_snooze_in_a_project_that_requires_an_approver(world):
    result = world.snooze(STALLED, BOB)
    assert result.done and world.state(STALLED) == "snoozed"


@pytest.mark.parametrize(
    "identity",
    [
        Identity("U0OPS", guest=True),
        Identity("U0OPS", external=True),
        Identity("U0GRACE", frozenset({"S0PLATFORM"}), guest=True),
        Identity("U0OLIVE", external=True),
    ],
    ids=["guest-id", "external-id", "guest-in-group", "external-email"],
)
def test_guests_and_outsiders_are_never_approvers(world, identity):
    email = "ops@acme.ai" if identity.user_id == "U0OLIVE" else None
    result = world.stop(IDLE, Actor(identity.user_id, email, identity))
    assert not result.done
    # an outsider is not told whose instance it is
    assert result.message == STRANGER_MESSAGE.replace(" ({owner})", "")
    assert world.state(IDLE) == "proposed"


def test_another_workspaces_user_with_the_owners_email_is_not_the_owner(world):
    """Another organisation's admins set their users' emails: an outsider owns only by id."""
    mallory = Actor("U0MALLORY", "alice@acme.ai", Identity("U0MALLORY", external=True))
    result = world.stop(IDLE, mallory)
    assert not result.done and world.state(IDLE) == "proposed"


def test_a_guest_who_owns_the_instance_may_act_on_it(world):
    guest = Actor("U0ALICE", "alice@acme.ai", Identity("U0ALICE", guest=True))
    assert world.stop(IDLE, guest).done


def test_admins_act_anywhere_even_where_an_approver_is_required(db):
    access = parse_access({"mode": "scoped", "admins": ["U0ADMIN", "S0FINOPS"]})
    world = World(db, access=access)
    result = world.stop(STALLED, ADMIN)
    assert result.done and world.audit(STALLED)[2]["after"] == {"role": "admin"}
    member = Actor("U0FIN", None, Identity("U0FIN", frozenset({"S0FINOPS"})))
    assert world.stop(IDLE, member).done
    guest = Actor("U0ADMIN", None, Identity("U0ADMIN", guest=True))
    assert not world.stop(GCP_IDLE, guest).done


def test_a_scoped_approver_acts_only_within_their_grants(db):
    access = parse_access(
        {"mode": "scoped", "grants": [{"user": "U0OPS", "projects": ["bert-training"]}]}
    )
    world = World(db, access=access)
    assert world.stop(IDLE, OPS).done
    outside = world.stop(GCP_IDLE, OPS)
    assert outside.message.startswith(
        "The resource is outside what you may see (project bert-training) (carol@acme.ai)"
    )
    assert world.state(GCP_IDLE) == "proposed"
    nothing = world.stop(MEMORY, GRACE)  # an approver by group, with no grant at all
    assert "outside what you may see (nothing (no grant))" in nothing.message


def test_access_approvers_count_too(db):
    world = World(db, {**RAW, "approvers": []}, access=parse_access({"approvers": ["U0OPS"]}))
    assert world.stop(IDLE, OPS).done
    assert not world.stop(MEMORY, GRACE).done  # S0PLATFORM is no approver here


# -- dry run ---------------------------------------------------------------------------------
def test_a_dry_run_stop_only_reads_and_probes(dry, no_real_calls):
    result = dry.stop(IDLE, ALICE)
    assert result.done
    assert result.message == "Dry run: nothing was executed. The plan is on the card."
    p = result.proposal
    assert p.state == "planned" and p.decided_by == "U0ALICE"
    assert p.result["dry_run"] is True and p.result["refusal"] is None
    assert p.result["probe"]["allowed"] is True
    assert p.result["plan"] == [f"stop {IDLE} (p4d.24xlarge) in aws 123456789012 us-east-1"]
    assert no_real_calls == []
    assert dry.cloud.calls == [("read", IDLE), ("probe stop", IDLE)]
    assert dry.instance(IDLE).state == "running"
    assert dry.events(IDLE) == ["proposed", "clicked", "approved", "planned"]
    assert {e["mode"] for e in dry.audit(IDLE)[1:]} == {"dry-run"}
    assert store.executions_since(dry.db, "aws", "123456789012", NOW - timedelta(hours=1)) == 0


def test_a_dry_run_snooze_writes_no_tag(dry, no_real_calls):
    until = NOW + timedelta(days=3)
    result = dry.snooze(IDLE, ALICE, until=until)
    assert result.done and result.message == (
        "Snoozed until 2026-11-25 06:00 UTC: no proposal for it before then (the keep-until "
        "tag is not written in dry-run)."
    )
    assert dry.state(IDLE) == "snoozed"
    assert store.get(dry.db, dry.p[IDLE].id).snoozed_until == stamp(until)
    assert KEEP_TAG not in dry.instance(IDLE).tags
    assert no_real_calls == []
    assert dry.cloud.calls == [("read", IDLE)]
    assert dry.audit(IDLE)[-1]["after"] == {"tag": "dry-run", "until": stamp(until)}


def test_in_dry_run_the_cloud_sees_only_reads_and_probes(dry, no_real_calls):
    """A spy over every click a dry run takes: stops, snoozes, double clicks, refusals."""
    dry.stop(IDLE, ALICE)
    dry.stop(IDLE, ALICE)  # the same card again
    dry.stop(MEMORY, EVE)
    dry.stop(STALLED, OPS)
    dry.snooze(MEMORY, Actor("U0HEIDI", "heidi@acme.ai", Identity("U0HEIDI")))
    dry.snooze(GCP_IDLE, OPS, until=NOW + timedelta(days=1))
    dry.snooze(IDLE, ALICE)  # a planned proposal may be snoozed
    kinds = {kind for kind, _ in dry.cloud.calls}
    assert kinds <= {"read", "probe stop"}
    assert no_real_calls == []
    assert {i.state for i in dry.cloud.instances.values()} == {"running"}
    assert not any(KEEP_TAG in i.tags for i in dry.cloud.instances.values())
    assert (dry.state(IDLE), dry.state(STALLED), dry.state(GCP_IDLE)) == (
        "snoozed",
        "planned",
        "snoozed",
    )


def test_a_planned_proposal_cannot_be_clicked_again(dry):
    dry.stop(IDLE, ALICE)
    again = dry.stop(IDLE, ALICE)
    assert again.message == (
        "Already planned (dry run) by <@U0ALICE> at 06:00 UTC. Nothing was changed."
    )


def test_a_dry_run_probe_that_fails_ends_the_proposal(dry, monkeypatch):
    def probe(self, target, observed):
        raise FinopsError("the probe could not reach the cloud")

    monkeypatch.setattr(demo_cloud._DemoStop, "probe", probe)
    result = dry.stop(IDLE, ALICE)
    assert not result.done
    assert dry.state(IDLE) == "failed"  # not left approved (which blocks every later sweep)
    assert "the probe could not reach the cloud" in result.message
    assert dry.events(IDLE)[-1] == "failed"


# -- what refuses a click ---------------------------------------------------------------------
def test_a_changed_instance_supersedes_the_proposal(world):
    world.instance(IDLE).state = "stopped"  # someone stopped it in the console
    result = world.stop(IDLE, ALICE)
    assert not result.done
    assert result.message == (
        "Not stopped: its state changed from running to stopped. The proposal is superseded."
    )
    p = store.get(world.db, world.p[IDLE].id)
    assert p.state == "superseded"
    assert p.result == {"reason": "its state changed from running to stopped"}
    last = world.audit(IDLE)[-1]
    assert last["event"] == "superseded" and last["error"] == p.result["reason"]
    assert last["before"]["fingerprint"] == world.p[IDLE].fingerprint
    assert last["after"]["state"] == "stopped"
    assert ("stop", IDLE) not in world.cloud.calls


def test_changed_tags_or_launch_time_supersede(world, monkeypatch):
    world.instance(IDLE).tags["team"] = "nlp"
    assert world.stop(IDLE, ALICE).message.startswith("Not stopped: its tags changed.")
    monkeypatch.setattr(demo_cloud, "DEMO_LAUNCHED", "2026-11-22T05:30:00+00:00")
    relaunched = world.stop(MEMORY, OPS)
    assert relaunched.message.startswith(
        "Not stopped: its launched changed from 2026-11-20T08:00:00+00:00 to "
        "2026-11-22T05:30:00+00:00"
    )
    assert world.state(IDLE) == world.state(MEMORY) == "superseded"


def test_a_vanished_instance_supersedes(world):
    del world.cloud.instances[("aws", IDLE)]
    assert "(it has no owner tag)" in world.stop(IDLE, ALICE).message  # no owner to be
    result = world.stop(IDLE, OPS)
    assert result.message.startswith("Not stopped: the instance no longer exists")
    assert world.state(IDLE) == "superseded"


def test_the_keep_until_tag_is_no_change(world):
    world.instance(IDLE).tags[KEEP_TAG] = "1"
    assert world.stop(IDLE, ALICE).done


def test_an_expired_proposal_is_refused(world):
    expires = NOW + timedelta(hours=world.rules.expiry_hours)
    late = world.stop(IDLE, ALICE, now=expires)
    assert late.message == "This proposal expired at 2026-11-23T06:00 UTC. Nothing was changed."
    assert world.state(IDLE) == "proposed" and world.instance(IDLE).state == "running"
    assert world.cloud.calls == []  # refused before the cloud is read
    assert not world.snooze(IDLE, ALICE, now=expires).done
    assert world.stop(IDLE, ALICE, now=expires - timedelta(seconds=1)).done


def test_an_old_card_is_refused(world):
    old = world.now_nonce(IDLE)
    store.rotate(world.db, world.p[IDLE].id)  # the card was redrawn
    result = world.stop(IDLE, ALICE, nonce=old)
    assert result.message == "This card is out of date; use the newest card. Nothing was changed."
    assert world.state(IDLE) == "proposed"
    assert not world.runner.snooze(world.db, world.p[IDLE].id, old, ALICE, NOW).done
    assert world.stop(IDLE, ALICE).done  # the newest card works


def test_an_unknown_proposal_is_refused_and_audited(world):
    result = world.runner.stop(world.db, "rp_000000000000", "x", ALICE, NOW)
    assert result.message == (
        "That proposal is not known here (another cache, or removed). Nothing was changed."
    )
    events = store.audit_events(world.db, "rp_000000000000")
    assert [e["event"] for e in events] == ["refused"] and events[0]["proposal_id"] is None


def test_the_kill_switch(world):
    off = Runner(replace(world.rules, enabled=False), world.runner.access, world.cloud)
    for result in (
        world.stop(IDLE, ALICE, runner=off),
        off.snooze(world.db, world.p[IDLE].id, world.now_nonce(IDLE), ALICE, NOW),
        off.start(world.db, world.p[IDLE].id, world.now_nonce(IDLE), ALICE, NOW),
    ):
        assert result.message == (
            "Remediation is switched off ([remediation] enabled = false). Nothing was changed."
        )
    assert world.cloud.calls == [] and world.state(IDLE) == "proposed"
    assert world.events(IDLE) == ["proposed", "refused", "refused", "refused"]


def test_the_hourly_limit_per_cloud_account(db):
    world = World(db, {**RAW, "max_actions_per_hour": 1})
    assert world.stop(IDLE, ALICE).done
    limited = world.stop(MEMORY, OPS)  # the same AWS account
    assert not limited.done
    assert limited.message == (
        "Not stopped: the limit of 1 actions an hour in aws account 123456789012 is reached; "
        "try again later."
    )
    p = store.get(world.db, world.p[MEMORY].id)
    assert p.state == "proposed" and p.decided_by is None and p.decided_at is None
    assert limited.proposal.nonce == p.nonce  # the card redraws with its new nonce
    assert world.instance(MEMORY).state == "running"
    assert world.events(MEMORY)[-1] == "refused"
    assert world.stop(GCP_IDLE, OPS).done  # another account has its own limit
    later = NOW + timedelta(hours=1, minutes=1)
    assert world.stop(MEMORY, OPS, now=later).done


def test_the_limit_counts_real_executions_only(db):
    world = World(db, {**RAW, "dry_run": True, "max_actions_per_hour": 1})
    assert world.stop(IDLE, ALICE).proposal.state == "planned"
    assert world.stop(MEMORY, OPS).proposal.state == "planned"


# -- a failed cloud call ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("raise", "InsufficientInstanceCapacity: try later"),
        ("outcome", "UnauthorizedOperation on ec2:StopInstances"),
        ("crash", "RuntimeError: the SDK fell over"),
    ],
)
def test_a_failed_stop_is_failed_not_stuck_executing(world, monkeypatch, behaviour, error):
    def run(self, target, observed, request_id, **params):
        self.demo.calls.append((self.name, target.id))
        if behaviour == "raise":
            raise FinopsError(error)
        if behaviour == "crash":
            raise RuntimeError("the SDK fell over")
        return Outcome(False, error=error)

    monkeypatch.setattr(demo_cloud._DemoStop, "run", run)
    result = world.stop(IDLE, ALICE)
    assert not result.done and result.message == f"The stop failed: {error}"
    p = store.get(world.db, world.p[IDLE].id)
    assert p.state == "failed" and p.result["error"] == error
    assert world.events(IDLE)[-2:] == ["executing", "failed"]
    assert world.audit(IDLE)[-1]["error"] == error
    assert store.listed(world.db, ("executing",)) == []


def test_a_refused_stop_fails_without_a_call(world):
    world.instance(IDLE).state = "stopping"
    with world.db.conn:
        world.db.execute("UPDATE proposals SET fingerprint = NULL WHERE id = ?", [world.p[IDLE].id])
    result = world.stop(IDLE, ALICE)
    assert result.message == "Not stopped: it is already stopping."
    assert world.state(IDLE) == "failed" and ("stop", IDLE) not in world.cloud.calls


# -- start again -----------------------------------------------------------------------------
def test_start_again_only_after_a_stop_succeeded(world):
    early = world.start(IDLE, ALICE)
    assert early.message == "It is proposed. Nothing was changed."
    assert world.cloud.calls == []  # refused before the cloud is read
    stopped = world.stop(IDLE, OPS)
    later = NOW + timedelta(hours=30)  # after the proposal's expiry: still allowed
    started = world.runner.start(world.db, world.p[IDLE].id, stopped.proposal.nonce, ALICE, later)
    assert started.done and started.message == f"Started {IDLE} again."
    assert started.proposal.state == "restarted" and world.instance(IDLE).state == "running"
    assert world.events(IDLE)[-3:] == ["clicked", "executing", "succeeded"]
    assert (started.proposal.decided_by, started.proposal.decided_at) == ("U0ALICE", stamp(later))
    again = world.start(IDLE, ALICE, now=later)
    assert again.message.startswith("Already started again by <@U0ALICE> at 12:00 UTC")


def test_start_again_by_a_stranger_is_refused(world):
    world.stop(IDLE, ALICE)
    assert world.start(IDLE, EVE).message == STRANGER_MESSAGE.format(owner="alice@acme.ai")
    assert world.state(IDLE) == "succeeded" and world.instance(IDLE).state == "stopped"


def test_a_failed_start_leaves_it_stopped(world, monkeypatch):
    world.stop(IDLE, OPS)
    monkeypatch.setattr(
        demo_cloud._DemoStart, "run", lambda *a, **k: Outcome(False, error="no capacity")
    )
    result = world.start(IDLE, ALICE)
    assert not result.done
    assert result.message == "The start failed: no capacity. Nothing else changed."
    p = store.get(world.db, world.p[IDLE].id)
    assert p.state == "succeeded" and p.decided_by == "U0OPS"  # as the stop left it
    assert (
        world.start(IDLE, ALICE).message == "The start failed: no capacity. Nothing else changed."
    )


# -- snooze ----------------------------------------------------------------------------------
def test_a_real_snooze_writes_the_keep_until_tag(world):
    until = NOW + timedelta(days=7)
    result = world.snooze(IDLE, ALICE, until=until)
    assert result.done and result.message == (
        "Snoozed until 2026-11-29 06:00 UTC: no proposal for it before then."
    )
    assert world.instance(IDLE).tags[KEEP_TAG] == str(int(until.timestamp()))
    assert world.events(IDLE)[-3:] == ["executing", "succeeded", "snoozed"]
    assert world.audit(IDLE)[-1]["after"] == {"tag": "written", "until": stamp(until)}
    assert world.stop(IDLE, ALICE).message.startswith("Snoozed by <@U0ALICE> until 2026-11-29")


def test_a_snooze_whose_tag_fails_still_snoozes(world, monkeypatch):
    monkeypatch.setattr(
        demo_cloud._DemoKeep, "run", lambda *a, **k: Outcome(False, error="AccessDenied")
    )
    result = world.snooze(IDLE, ALICE)
    assert result.done and world.state(IDLE) == "snoozed"
    assert "(the keep-until tag could not be written: AccessDenied)" in result.message


@pytest.mark.parametrize(
    "until", [NOW, NOW - timedelta(days=1), NOW + timedelta(days=91, seconds=1)]
)
def test_a_snooze_date_out_of_range_is_refused(world, until):
    result = world.snooze(IDLE, ALICE, until=until)
    assert result.message == "Pick a day from today to 90 days ahead. Nothing was changed."
    assert world.state(IDLE) == "proposed"


# -- housekeeping ------------------------------------------------------------------------------
def test_expire_ends_proposed_and_planned_proposals(db):
    world = World(db, {**RAW, "dry_run": True})
    world.stop(IDLE, ALICE)  # planned
    world.snooze(MEMORY, OPS)  # snoozed: not expired
    assert world.runner.expire(world.db, NOW + timedelta(hours=23)) == []
    expired = world.runner.expire(world.db, NOW + timedelta(hours=24))
    assert {p.resource_id for p in expired} == {IDLE, STALLED, GCP_IDLE}
    assert {p.state for p in expired} == {"expired"}
    assert world.state(MEMORY) == "snoozed"
    last = world.audit(IDLE)[-1]
    assert (last["event"], last["actor_user_id"], last["mode"]) == ("expired", "bot", "dry-run")
    assert world.runner.expire(world.db, NOW + timedelta(hours=48)) == []
    assert world.cloud.calls == [("read", IDLE), ("probe stop", IDLE), ("read", MEMORY)]


def test_expire_leaves_a_stopped_proposal_alone(world):
    world.stop(IDLE, ALICE)
    expired = world.runner.expire(world.db, NOW + timedelta(days=2))
    assert IDLE not in {p.resource_id for p in expired} and world.state(IDLE) == "succeeded"


def _executing(world, name):
    assert store.move(world.db, world.p[name].id, ("proposed",), "executing", NOW)


def test_recover_completes_or_fails_what_a_restart_interrupted(world):
    _executing(world, IDLE)
    world.instance(IDLE).state = "stopped"  # the stop took before the process died
    _executing(world, MEMORY)  # still running: the call never reached the cloud
    _executing(world, GCP_IDLE)
    del world.cloud.instances[("gcp", GCP_IDLE)]
    later = NOW + timedelta(minutes=5)
    recovered = {p.resource_id: p for p in world.runner.recover(world.db, later)}
    assert set(recovered) == {IDLE, MEMORY, GCP_IDLE}
    assert recovered[IDLE].state == "succeeded"
    assert recovered[IDLE].result == {"recovered": True, "error": None}
    assert recovered[MEMORY].state == "failed"
    assert recovered[MEMORY].result["error"] == "interrupted by a restart; the instance is running"
    assert recovered[GCP_IDLE].state == "failed"
    assert world.events(IDLE)[-1] == "recovered succeeded"
    assert world.events(MEMORY)[-1] == "recovered failed"
    assert world.audit(MEMORY)[-1]["actor_user_id"] == "bot"
    assert store.listed(world.db, ("executing",)) == []
    assert world.runner.recover(world.db, later) == []  # nothing left
    assert world.state(STALLED) == "proposed"
    # the recovered stop may be started again
    assert world.start(IDLE, ALICE, now=later).done
    assert world.instance(IDLE).state == "running"


def test_recover_when_the_cloud_cannot_be_read(world, monkeypatch):
    _executing(world, IDLE)

    def read(self, target):
        raise FinopsError("ExpiredToken")

    monkeypatch.setattr(demo_cloud._DemoReader, "read", read)
    (p,) = world.runner.recover(world.db, NOW)
    assert p.state == "failed"
    assert (
        p.result["error"] == "interrupted by a restart; the cloud could not be read (ExpiredToken)"
    )


def test_an_interrupted_stop_is_not_clicked_again(world):
    _executing(world, IDLE)
    assert world.stop(IDLE, ALICE).message.startswith("Already being carried out")
