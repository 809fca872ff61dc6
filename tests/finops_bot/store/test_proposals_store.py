"""The proposals table and the remediation audit (store.proposals, migration m016): the
append-only audit, one open proposal per resource and action, the conditional ``move``, and
the reads the runner, the sweep and the audit command use."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta

import pytest

from finops_bot.store import proposals as store
from finops_bot.store.proposals import StoredProposal, stamp
from tests.conftest import NOW


def proposal(pid: str = "rp_000000000001", **changes) -> StoredProposal:
    base = StoredProposal(
        id=pid,
        cloud="aws",
        account="123456789012",
        region="us-east-1",
        resource_id="i-0abc",
        instance_type="p4d.24xlarge",
        spot=False,
        node="node-a",
        action="stop",
        state="proposed",
        owner="alice@acme.ai",
        project="bert-training",
        evidence={"state": "idle", "gpus": 8},
        saving_per_hour=32.7,
        keeps_billing_per_hour=0.05,
        currency="USD",
        fingerprint="f" * 16,
        created_at=stamp(NOW),
        expires_at=stamp(NOW + timedelta(hours=24)),
        updated_at=stamp(NOW),
        nonce="nonce-1",
    )
    return replace(base, **changes)


@pytest.fixture
def stored(db) -> StoredProposal:
    p = proposal()
    assert store.insert(db, p)
    return p


# -- the append-only audit --------------------------------------------------------------------
def test_the_audit_refuses_update_and_delete(db, stored):
    store.audit(db, NOW, "proposed", stored, actor_user_id="sweep", mode="dry-run")
    store.audit(db, NOW, "clicked", stored, actor_user_id="U0ALICE", actor_email="a@acme.ai")
    before = db.execute("SELECT * FROM remediation_audit ORDER BY seq").fetchall()
    for sql in (
        "UPDATE remediation_audit SET event = 'approved'",
        "UPDATE remediation_audit SET actor_user_id = 'U0EVE' WHERE event = 'clicked'",
        "DELETE FROM remediation_audit",
        "DELETE FROM remediation_audit WHERE event = 'clicked'",
    ):
        with (
            pytest.raises(sqlite3.DatabaseError, match="remediation_audit is append-only"),
            db.conn,
        ):
            db.execute(sql)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db["remediation_audit"].delete_where("1")
    assert db.execute("SELECT * FROM remediation_audit ORDER BY seq").fetchall() == before


def test_an_audit_line_outlives_a_failed_transition(db, stored):
    """Each line is its own transaction: it is written even when what follows fails."""
    store.move(db, stored.id, ("proposed",), "expired", NOW)
    assert store.insert(db, proposal("rp_000000000002"))
    store.audit(db, NOW, "clicked", stored, actor_user_id="U0ALICE")
    with pytest.raises(sqlite3.IntegrityError):  # two open for one resource: refused
        store.move(db, stored.id, ("expired",), "proposed", NOW)
    assert [e["event"] for e in store.audit_events(db)] == ["clicked"]
    assert db.execute("SELECT COUNT(*) FROM remediation_audit").fetchone()[0] == 1


# -- one open proposal per resource and action ----------------------------------------------------
def test_one_open_proposal_per_resource_and_action(db, stored):
    assert not store.insert(db, proposal("rp_000000000002"))  # ignored: one is open
    assert store.get(db, "rp_000000000002") is None
    raw = "INSERT INTO proposals (id, cloud, account, region, resource_id, node, action, state, "
    raw += "created_at, expires_at, updated_at, nonce) VALUES (?, 'aws', '123456789012', 'r', "
    raw += "'i-0abc', 'n', 'stop', ?, 't', 't', 't', 'x')"
    for state in store.OPEN:
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"), db.conn:
            db.execute(raw, [f"rp_raw_{state}", state])
    # another action, account, cloud or resource: its own proposal
    assert store.insert(db, proposal("rp_000000000003", action="start"))
    assert store.insert(db, proposal("rp_000000000004", account="210987654321"))
    assert store.insert(db, proposal("rp_000000000005", cloud="gcp"))
    assert store.insert(db, proposal("rp_000000000006", resource_id="i-0def"))


@pytest.mark.parametrize("closed", ["succeeded", "failed", "expired", "snoozed", "superseded"])
def test_a_closed_proposal_makes_way_for_a_new_one(db, stored, closed):
    assert store.move(db, stored.id, ("proposed",), closed, NOW)
    assert store.insert(db, proposal("rp_000000000002"))
    # and the closed one cannot be reopened beside it
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        store.move(db, stored.id, (closed,), "proposed", NOW)
    assert store.get(db, stored.id).state == closed


def test_the_same_id_twice_is_ignored(db, stored):
    assert store.move(db, stored.id, ("proposed",), "expired", NOW)
    assert not store.insert(db, proposal())  # the primary key


# -- move -----------------------------------------------------------------------------------------
def test_move_returns_false_when_the_state_does_not_match(db, stored):
    assert not store.move(db, stored.id, ("approved", "executing"), "succeeded", NOW)
    assert store.get(db, stored.id).state == "proposed"
    assert not store.move(db, "rp_unknown", ("proposed",), "approved", NOW)
    assert not store.move(db, stored.id, (), "approved", NOW)


def test_move_returns_false_when_the_nonce_does_not_match(db, stored):
    assert not store.move(db, stored.id, ("proposed",), "approved", NOW, expect_nonce="old")
    got = store.get(db, stored.id)
    assert got.state == "proposed" and got.nonce == "nonce-1"
    assert store.move(
        db, stored.id, ("proposed",), "approved", NOW, expect_nonce="nonce-1", nonce="nonce-2"
    )
    assert store.get(db, stored.id).nonce == "nonce-2"
    assert not store.move(db, stored.id, ("approved",), "executing", NOW, expect_nonce="nonce-1")


def test_move_unexpired(db, stored):
    at_expiry = NOW + timedelta(hours=24)
    assert not store.move(db, stored.id, ("proposed",), "approved", at_expiry, unexpired=True)
    before = at_expiry - timedelta(seconds=1)
    assert store.move(db, stored.id, ("proposed",), "approved", before, unexpired=True)


def test_move_applies_its_changes_once(db, stored):
    later = NOW + timedelta(minutes=5)
    assert store.move(
        db,
        stored.id,
        ("proposed", "planned"),
        "approved",
        later,
        expect_nonce="nonce-1",
        decided_by="U0ALICE",
        decided_at=stamp(later),
        result={"plan": ["stop i-0abc"]},
    )
    got = store.get(db, stored.id)
    assert (got.state, got.decided_by, got.decided_at) == ("approved", "U0ALICE", stamp(later))
    assert got.updated_at == stamp(later) and got.result == {"plan": ["stop i-0abc"]}
    assert got.created_at == stored.created_at and got.evidence == stored.evidence
    assert not store.move(db, stored.id, ("proposed",), "approved", later)  # the second: no


def test_a_proposal_round_trips(db, stored):
    assert store.get(db, stored.id) == stored
    assert store.get(db, "rp_nothing") is None
    spot = proposal("rp_000000000002", resource_id="i-spot", spot=True, instance_type=None)
    unknown = proposal("rp_000000000003", resource_id="i-unknown", spot=None, owner=None)
    assert store.insert(db, spot) and store.insert(db, unknown)
    assert store.get(db, spot.id) == spot and store.get(db, unknown.id).spot is None
    assert stored.resource == "aws:123456789012:us-east-1:i-0abc"
    assert proposal(account="").resource == "aws:-:us-east-1:i-0abc"


# -- reads --------------------------------------------------------------------------------
def test_listed_open_keys_and_snoozed_keys(db, stored):
    store.insert(db, proposal("rp_000000000002", resource_id="i-0def", node="node-b",
                              created_at=stamp(NOW + timedelta(minutes=1))))  # fmt: skip
    store.insert(db, proposal("rp_000000000003", resource_id="i-0ghi", node="node-c"))
    assert [p.id for p in store.listed(db)] == [
        "rp_000000000002",
        "rp_000000000001",
        "rp_000000000003",
    ]  # newest first, then by id
    until = stamp(NOW + timedelta(hours=4))
    store.move(db, "rp_000000000003", ("proposed",), "snoozed", NOW, snoozed_until=until)
    assert [p.id for p in store.listed(db, ("snoozed",))] == ["rp_000000000003"]
    assert [p.id for p in store.listed(db, (), "node-b")] == ["rp_000000000002"]
    assert [p.id for p in store.listed(db, store.OPEN, "i-0abc")] == [stored.id]
    assert store.open_keys(db) == {("aws", "i-0abc"), ("aws", "i-0def")}
    assert store.snoozed_keys(db, NOW) == {("aws", "i-0ghi")}
    assert store.snoozed_keys(db, NOW + timedelta(hours=4)) == set()


def test_due_to_expire_and_proposed_for(db, stored):
    soon = stamp(NOW + timedelta(hours=2))
    store.insert(db, proposal("rp_000000000002", resource_id="i-0def", node="node-b",
                              saving_per_hour=99.0, expires_at=soon))  # fmt: skip
    assert store.due_to_expire(db, NOW + timedelta(hours=1)) == []
    assert [p.id for p in store.due_to_expire(db, NOW + timedelta(hours=2))] == ["rp_000000000002"]
    assert len(store.due_to_expire(db, NOW + timedelta(hours=24))) == 2
    store.move(db, stored.id, ("proposed",), "succeeded", NOW)
    assert [p.id for p in store.due_to_expire(db, NOW + timedelta(hours=24))] == ["rp_000000000002"]
    assert store.proposed_for(db, set()) == []
    assert [p.id for p in store.proposed_for(db, {"node-a", "node-b"})] == ["rp_000000000002"]


def test_rotate_and_place_card(db, stored):
    nonce = store.rotate(db, stored.id)
    assert nonce != stored.nonce and store.get(db, stored.id).nonce == nonce
    store.place_card(db, stored.id, "D0ALICE", "1732255200.000100")
    got = store.get(db, stored.id)
    assert (got.card_channel, got.card_ts) == ("D0ALICE", "1732255200.000100")


def test_executions_since_counts_real_executions_in_one_account(db, stored):
    other = proposal("rp_000000000002", account="210987654321")
    store.insert(db, other)
    hour_ago = NOW - timedelta(hours=1)
    store.audit(db, NOW, "executing", stored, mode="real")
    store.audit(db, NOW, "executing", stored, mode="dry-run")
    store.audit(db, NOW, "succeeded", stored, mode="real")
    store.audit(db, hour_ago - timedelta(seconds=1), "executing", stored, mode="real")
    store.audit(db, NOW, "executing", other, mode="real")
    assert store.executions_since(db, "aws", "123456789012", hour_ago) == 1
    assert store.executions_since(db, "aws", "210987654321", hour_ago) == 1
    assert store.executions_since(db, "gcp", "123456789012", hour_ago) == 0


# -- audit_events -------------------------------------------------------------------------
def test_audit_events_filters(db, stored):
    other = proposal("rp_000000000002", resource_id="i-0def", node="node-b")
    store.insert(db, other)
    day2 = NOW + timedelta(days=1)
    store.audit(db, NOW, "proposed", stored, actor_user_id="sweep", after={"state": "proposed"})
    store.audit(db, NOW, "proposed", other, actor_user_id="sweep")
    store.audit(db, day2, "clicked", stored, actor_user_id="U0ALICE", actor_email="a@acme.ai")
    store.audit(db, day2, "refused", None, actor_user_id="U0EVE", resource="rp_gone",
                error="that proposal is not known here")  # fmt: skip
    store.audit(db, day2, "failed", other, before="not json", cloud_request_id="req-1")

    def events(**kw) -> list[tuple[str, str | None]]:
        return [(e["event"], e["proposal_id"]) for e in store.audit_events(db, **kw)]

    assert events() == [
        ("proposed", stored.id),
        ("proposed", other.id),
        ("clicked", stored.id),
        ("refused", None),
        ("failed", other.id),
    ]  # oldest first, in the order written
    by_id = [("proposed", stored.id), ("clicked", stored.id)]
    assert events(resource="i-0abc") == by_id  # the instance id
    assert events(resource="node-a") == by_id  # the node
    assert events(resource=stored.id) == by_id  # the proposal id
    assert events(resource="rp_gone") == [("refused", None)]  # a click on an unknown one
    assert events(resource="i-nothing") == []
    assert events(since=day2) == [("clicked", stored.id), ("refused", None), ("failed", other.id)]
    assert events(since=day2 + timedelta(seconds=1)) == []
    assert events(resource="i-0def", since=day2) == [("failed", other.id)]
    assert events(proposal_ids={other.id}) == [("proposed", other.id), ("failed", other.id)]
    assert events(proposal_ids=set()) == []

    first, *_, last = store.audit_events(db)
    assert set(first) == {*store.AUDIT_FIELDS, "resource"}
    assert first["after"] == {"state": "proposed"} and first["before"] is None
    assert first["resource"] == stored.resource and first["action"] == "stop"
    assert last["before"] == "not json" and last["cloud_request_id"] == "req-1"
    refused = store.audit_events(db, "rp_gone")[0]
    assert refused["resource"] == "rp_gone" and refused["action"] is None
    assert refused["error"] == "that proposal is not known here"
