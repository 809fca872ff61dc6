"""What a hostile probe found, kept fixed: another workspace's user with the owner's email is
not the owner; a heartbeat label cannot lift a project's require_approver (the cloud's
project tag decides); a dry run's plan can be carried out once dry-run is off; a date far
out of range is refused in words."""

from __future__ import annotations

from dataclasses import replace

from finops_bot.access import Identity
from finops_bot.remediation.runner import Actor, Runner
from tests.finops_bot.remediation.test_runner import ALICE, BOB, RAW, STALLED, World

IDLE = "i-0b3a1c2d4e5f60002"


def test_an_outsider_with_the_owners_email_cannot_stop_it(db):
    world = World(db)
    mallory = Actor("U0MALLORY", "ALICE@acme.ai", Identity("U0MALLORY", external=True))
    result = world.stop(IDLE, mallory)
    assert not result.done and "alice@acme.ai" not in result.message.lower()
    assert world.instance(IDLE).state == "running" and world.state(IDLE) == "proposed"


def test_an_outsider_named_by_user_id_in_the_owner_tag_owns_it(db):
    world = World(db)
    world.retag(IDLE, "U0PARTNER")
    partner = Actor("U0PARTNER", None, Identity("U0PARTNER", external=True))
    assert world.stop(IDLE, partner).done


def test_a_label_cannot_lift_require_approver_the_cloud_tag_decides(db):
    world = World(db)
    with db.conn:  # the heartbeat said "scratch": the proposal believes it
        db.execute("UPDATE proposals SET project = 'scratch' WHERE id = ?", [world.p[STALLED].id])
    world.instance(STALLED).tags["project"] = "llm-finetune"  # unchanged: the fingerprint
    result = world.stop(STALLED, BOB)
    assert not result.done and "needs an approver" in result.message
    assert world.instance(STALLED).state == "running"


def test_a_dry_runs_plan_runs_for_real_once_dry_run_is_off(db):
    world = World(db, {**RAW, "dry_run": True})
    assert world.stop(IDLE, ALICE).done and world.state(IDLE) == "planned"
    again = world.stop(IDLE, ALICE)
    assert not again.done and again.message.startswith("Already planned")
    live = Runner(replace(world.rules, dry_run=False), world.runner.access, world.cloud)
    result = world.stop(IDLE, ALICE, runner=live)
    assert result.done and world.state(IDLE) == "succeeded"
    assert world.instance(IDLE).state == "stopped"


def test_keep_until_a_date_beyond_the_calendar_is_refused():
    from bot.remediation import keep_until

    assert keep_until("9999-12-31").year == 1970  # the runner refuses it in words
    assert keep_until("2026-02-30").year == 1970
    assert keep_until(None).year == 1970
