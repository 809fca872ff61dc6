"""Spot advice (remediation.spot) on a real cache with the demo fleet and its in-memory
cloud: proposed only for busy on-demand nodes whose work can resume (the checkpoints
label, or progress that went on after a restart), never for the others (the reason is
said); the saving from the dated price tables net of the stated interruption assumption;
one open proposal per node; an approver decides (owners alone may not); GCP switches in
place (a dry-run plan, then for real on the demo cloud); an AWS standalone instance gets a
written plan with [Copy plan] and no button that pretends."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from finops_bot.access import AccessPolicy, Identity
from finops_bot.demo_fleet import load_fleet
from finops_bot.gpu.heartbeat import store_batches, validate_batch
from finops_bot.gpu.prices import BUNDLED, PRICES_AS_OF, PriceBook
from finops_bot.remediation.demo_cloud import DemoCloud
from finops_bot.remediation.rules import parse_remediation
from finops_bot.remediation.runner import Actor, Runner
from finops_bot.remediation.spot import NOT_RESUMABLE, interruption_cost, spot_sweep
from finops_bot.render.proposals import FIX_PLAN, FIX_STOP, proposal_blocks
from finops_bot.store import proposals as store
from tests.conftest import NOW

RULES = parse_remediation({"propose_after_minutes": 30, "approvers": ["U0OPS"]})
OPS = Actor("U0OPS", None, Identity("U0OPS"))
DAN = Actor("U0DAN", "dan@acme.ai", Identity("U0DAN"))
GCP_BUSY, AWS_BUSY = "recsys-g2-0", "i-0b3a1c2d4e5f60001"


@pytest.fixture
def world(db):
    load_fleet(db, NOW)
    cloud = DemoCloud.of_demo_fleet()
    result = spot_sweep(db, NOW, RULES, cloud, PriceBook())
    return db, cloud, {p.resource_id: p for p in result.proposed}, result


def test_only_busy_on_demand_work_that_can_resume_is_advised(world):
    db, _, made, result = world
    assert set(made) == {GCP_BUSY, AWS_BUSY}  # the two whose jobs write checkpoints
    assert all(p.action == "spot" and p.state == "proposed" for p in made.values())
    assert {line.split(": ", 1)[1] for line in result.skipped} == {NOT_RESUMABLE}
    assert len(result.skipped) == 3  # the other busy on-demand nodes, each with the reason


def test_the_saving_comes_from_the_dated_prices_net_of_the_assumption(world):
    _, _, made, _ = world
    p = made[GCP_BUSY]
    price = BUNDLED[("gcp", "g2-standard-48")]
    lost = interruption_cost(price.spot)
    assert p.saving_per_hour == pytest.approx(price.on_demand - price.spot - lost, abs=1e-4)
    assert p.evidence["price_basis"] == f"bundled {PRICES_AS_OF}"
    assert p.evidence["notice"] == "30 seconds" and made[AWS_BUSY].evidence["notice"] == "2 minutes"
    text = proposal_blocks(p, NOW)[0]["text"]["text"]
    assert "interruption notice: 30 seconds" in text and "Needs an approver" in text
    assert "1 interruption a day, 15 minutes of work redone after each" in text


def test_a_configured_price_overrides_the_bundled_table(db):
    from finops_bot.gpu.prices import parse_overrides

    load_fleet(db, NOW)
    prices = PriceBook(parse_overrides({"gcp:g2-standard-48": {
        "gpus": 4, "on_demand": 5.0, "spot": 1.0}}))  # fmt: skip
    made = {p.resource_id: p for p in spot_sweep(db, NOW, RULES, DemoCloud.of_demo_fleet(),
                                                  prices).proposed}  # fmt: skip
    assert made[GCP_BUSY].evidence["price_basis"] == "config"
    assert made[GCP_BUSY].saving_per_hour == pytest.approx(4.0 - interruption_cost(1.0), 1e-4)


def test_progress_that_went_on_after_a_restart_is_evidence(db):
    """A node without the label whose step counter continued across a gap in heartbeats."""
    load_fleet(db, NOW)
    node = "i-0e6d4f5a7b8c90000"  # frank's busy g5.xlarge: no checkpoints label
    batches = []
    for minute, step in ((-100, 500), (-99, 510), (-80, 530)):  # a 19-minute gap, then on
        end = NOW + timedelta(minutes=minute)
        batches.append((0, validate_batch(_batch(node, end, step))))
    store_batches(db, batches, NOW)
    made = {p.resource_id: p for p in spot_sweep(db, NOW, RULES, DemoCloud.of_demo_fleet(),
                                                  PriceBook()).proposed}  # fmt: skip
    assert node in made
    assert made[node].evidence["resume"].startswith("its progress counter went on (510 → 530)")


def _batch(node, end, progress):
    return {
        "schema": "finops.heartbeat/v1", "batch_id": f"t-{node}-{end:%H%M}",
        "node": {"hostname": node, "provider": "aws", "instance_id": node,
                 "instance_type": "g5.xlarge", "region": "us-east-1", "spot": False,
                 "account": "123456789012"},
        "labels": {"project": "inference-api", "owner": "frank@acme.ai"}, "progress": progress,
        "window": {"start": (end - timedelta(minutes=1)).isoformat(), "end": end.isoformat(),
                   "samples": 6},
        "gpus": [{"index": 0, "uuid": "GPU-demo-0", "state": "ok",
                  "util": {"min": 90, "mean": 90, "max": 90}}],
    }  # fmt: skip


def test_one_open_spot_proposal_per_node(world):
    db, cloud, _, _ = world
    assert spot_sweep(db, NOW, RULES, cloud, PriceBook()).proposed == ()


def test_an_approver_decides_owners_alone_may_not(world):
    db, cloud, made, _ = world
    p = made[GCP_BUSY]
    runner = Runner(RULES, AccessPolicy(), cloud)
    own = runner.stop(db, p.id, p.nonce, DAN, NOW)
    assert not own.done and "needs an approver" in own.message
    planned = runner.stop(db, p.id, p.nonce, OPS, NOW)
    assert planned.done and store.get(db, p.id).state == "planned"
    assert "set its scheduling to Spot" in " ".join(store.get(db, p.id).result["plan"])
    assert cloud.find(_target(p)).observed().spot is False  # a dry run changed nothing
    live = Runner(replace(RULES, dry_run=False), AccessPolicy(), cloud)
    done = live.stop(db, p.id, store.get(db, p.id).nonce, OPS, NOW)
    assert done.done and done.message.startswith("Switched to Spot: recsys-g2-0")
    assert cloud.find(_target(p)).observed().spot is True
    assert done.notify_owner and done.notify_owner.startswith("<@U0OPS> acted on your instance")


def test_a_standalone_aws_instance_gets_a_written_plan_not_a_button(world):
    db, cloud, made, _ = world
    p = made[AWS_BUSY]
    assert p.evidence["plan_only"] and "create-image" in " ".join(p.evidence["plan"])
    ids = [e["action_id"].split(":")[0] for e in proposal_blocks(p, NOW)[1]["elements"]]
    assert FIX_PLAN in ids and FIX_STOP not in ids
    runner = Runner(replace(RULES, dry_run=False), AccessPolicy(), cloud)
    refused = runner.stop(db, p.id, p.nonce, OPS, NOW)
    assert not refused.done and "written plan" in refused.message
    copied = runner.copy_plan(db, p.id, p.nonce, OPS, NOW)
    assert "```" in copied.message and "create-image" in copied.message
    assert store.get(db, p.id).state == "proposed"
    assert "plan copied" in [e["event"] for e in store.audit_events(db, p.id)]
    assert [c for c in cloud.calls if c[0] not in ("read",)] == []  # nothing reached it


def _target(p):
    from finops_bot.remediation.sweep import target_of_proposal

    return target_of_proposal(p)


def test_each_action_has_its_own_open_proposal_and_a_snooze_holds_both(world):
    """An open Spot proposal does not hide a later stop proposal for the same node (it went
    idle), and a node snoozed for one is not advised the other."""
    db, cloud, made, _ = world
    with db.conn:  # the GCP node's Spot proposal is open; pretend the node's stop was snoozed
        db.execute(
            "INSERT INTO proposals (id, cloud, account, region, resource_id, node, action, "
            "state, created_at, expires_at, updated_at, nonce, snoozed_until) VALUES "
            "('rp_000000000001', 'aws', '123456789012', 'us-east-1', ?, ?, 'stop', "
            "'snoozed', ?, ?, ?, 'n', ?)",
            [AWS_BUSY, AWS_BUSY, *[store.stamp(NOW)] * 3, store.stamp(NOW + timedelta(hours=4))],
        )
        db.execute("UPDATE proposals SET state = 'expired' WHERE id = ?", [made[AWS_BUSY].id])
    again = {p.resource_id for p in spot_sweep(db, NOW, RULES, cloud, PriceBook()).proposed}
    assert AWS_BUSY not in again  # snoozed: kept as it is
    assert store.open_keys(db, "stop") == set()
    assert (made[GCP_BUSY].cloud, GCP_BUSY) in store.open_keys(db, "spot")


def test_a_switch_that_failed_halfway_resumes_from_its_card(world, monkeypatch):
    """The cloud call fails after the stop: the proposal fails, its card offers [Resume the
    switch] (an approver's), and the resumed switch is not taken for a changed instance."""
    from finops_bot.remediation import demo_cloud
    from finops_bot.remediation.registry import Outcome

    db, cloud, made, _ = world
    p = made[GCP_BUSY]
    live = Runner(replace(RULES, dry_run=False), AccessPolicy(), cloud)

    def halfway(self, target, observed, request_id, **params):
        self.demo.find(target).state = "stopped"
        return Outcome(False, error="setScheduling failed: 503; run it again to resume")

    monkeypatch.setattr(demo_cloud._DemoSpot, "run", halfway)
    failed = live.stop(db, p.id, p.nonce, OPS, NOW)
    assert not failed.done and store.get(db, p.id).state == "failed"
    blocks = proposal_blocks(store.get(db, p.id), NOW)
    assert [e["text"]["text"] for e in blocks[1]["elements"]] == ["Resume the switch"]
    monkeypatch.undo()
    assert not live.stop(db, p.id, store.get(db, p.id).nonce, DAN, NOW).done  # still approvers'
    resumed = live.stop(db, p.id, store.get(db, p.id).nonce, OPS, NOW)
    assert resumed.done and store.get(db, p.id).state == "succeeded"
    assert cloud.find(_target(p)).observed().spot is True


def test_a_finished_switch_offers_no_start_again(world):
    db, cloud, made, _ = world
    p = made[GCP_BUSY]
    live = Runner(replace(RULES, dry_run=False), AccessPolicy(), cloud)
    assert live.stop(db, p.id, p.nonce, OPS, NOW).done
    q = store.get(db, p.id)
    blocks = proposal_blocks(q, NOW)
    assert len(blocks) == 1 and "*Switched to Spot*" in blocks[0]["text"]["text"]
    again = live.start(db, p.id, q.nonce, OPS, NOW)
    assert not again.done and again.message.startswith("Only a stopped instance")


def test_no_proposal_that_the_switch_would_refuse_or_that_saves_nothing(db):
    from finops_bot.gpu.prices import parse_overrides

    load_fleet(db, NOW)
    cloud = DemoCloud.of_demo_fleet()
    cloud.instances[("gcp", GCP_BUSY)].spot = True  # the cloud says it already runs as Spot
    prices = PriceBook(parse_overrides({"aws:p4d.24xlarge": {
        "gpus": 8, "on_demand": 10.0, "spot": 9.99}}))  # fmt: skip
    result = spot_sweep(db, NOW, RULES, cloud, prices)
    assert result.proposed == ()
    reasons = dict(line.split(": ", 1) for line in result.skipped)
    assert reasons[GCP_BUSY] == "not switchable to Spot: it already runs as Spot"
    assert reasons[AWS_BUSY] == "Spot saves nothing once the assumed interruptions are counted"


def test_an_auto_scaling_groups_card_says_running_instances_wait_for_the_cycle(world):
    _, _, made, _ = world
    p = replace(made[GCP_BUSY], cloud="aws", evidence={**made[GCP_BUSY].evidence, "group": "web"})
    blocks = proposal_blocks(p, NOW)
    assert "running ones are replaced only as the group cycles" in blocks[0]["text"]["text"]
    assert blocks[1]["elements"][0]["confirm"]["title"]["text"] == "Move group web to Spot?"


def test_an_expired_plan_is_not_copied(world):
    db, cloud, made, _ = world
    p = made[AWS_BUSY]
    runner = Runner(RULES, AccessPolicy(), cloud)
    late = runner.copy_plan(db, p.id, p.nonce, OPS, NOW + timedelta(days=2))
    assert not late.done and "expired" in late.message
