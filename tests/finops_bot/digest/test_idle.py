"""The demo's GPU fleet and the idle-GPU digest: every state at the demo's pinned now,
grouped by owner with $/h, $ so far and $ a day, silent nodes said to be maybe billing, a
7-day leaderboard by GPU-hours, the access scope, Block Kit within limits, and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from slack_sdk.models.blocks import Block

from finops_bot.access import Grant, Scope
from finops_bot.demo_fleet import NODES, load_fleet
from finops_bot.digest.idle import compose_idle
from finops_bot.gpu.fleet import fleet
from finops_bot.render.idle_digest import idle_blocks, idle_text
from finops_bot.store import connect
from tests.bot.test_cli import AS_OF, run

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def demo_fleet(db_path):
    db = connect(db_path)
    assert load_fleet(db, NOW) > 0
    assert load_fleet(db, NOW) == 0  # again: every batch a replay
    yield db
    db.close()


def test_the_demo_fleet_shows_every_state(demo_fleet):
    states = {n.hostname: n.state for n in fleet(demo_fleet, NOW)}
    assert len(states) == len(NODES) == 12
    assert set(states.values()) == {"busy", "idle", "idle, memory held", "partly idle",
                                    "stalled", "silent"}  # fmt: skip


def test_the_idle_digest_groups_by_owner_with_the_money(demo_fleet):
    digest = compose_idle(demo_fleet, None, "idle", NOW)
    assert list(digest.owners)[0] == "bob@acme.ai"  # the most wasted per hour first
    assert "busy" not in {n.state for n in digest.nodes}
    assert digest.hourly == pytest.approx(sum(n.hourly or 0 for n in digest.nodes))
    stalled = next(n for n in digest.nodes if n.state == "stalled")
    assert stalled.hourly == pytest.approx(98.32) and stalled.per_day == pytest.approx(98.32 * 24)
    text = idle_text(digest)
    assert "asr-nd96-spot-0 (speech-asr): stopped reporting at 11:40" in text
    assert "may still be billing $8.16/h" in text
    hours = [h for _, h, _ in digest.leaderboard]
    assert hours == sorted(hours, reverse=True) and digest.leaderboard[0][0] == "bob@acme.ai"
    for block in idle_blocks(digest):
        Block.parse(block).validate_json()


def test_a_scoped_idle_digest_shows_only_its_nodes(demo_fleet):
    bert = Scope((Grant.of({"project": ["bert-training"]}),))
    digest = compose_idle(demo_fleet, bert, "nlp", NOW)
    assert [n.hostname for n in digest.nodes] == ["i-0b3a1c2d4e5f60002"]
    assert "vision" not in idle_text(digest) and "bob@" not in idle_text(digest)
    assert [o for o, _, _ in digest.leaderboard] == ["alice@acme.ai"]


def test_the_cli_shows_the_demo_fleet_at_its_pinned_now(tmp_path):
    db = tmp_path / "demo.db"
    run("demo", "--as-of", AS_OF, db=db)
    gpus = run("gpus", "--as-of", AS_OF, db=db).stdout
    assert "1 silent node stopped reporting" in gpus and "stalled" in gpus
    (post,) = json.loads(run("digest", "idle", "--as-of", AS_OF, "--json", db=db).stdout)
    assert post["channel"] is None and "wasted now" in post["text"]
    weekly = run("digest", "weekly", "--as-of", AS_OF, db=db).stdout
    assert (
        "Weekly cost digest · 2026-11-22" in weekly and "latest complete 7 billing days" in weekly
    )


def test_the_demo_fleet_is_seen_at_the_moment_it_was_built(tmp_path):
    """Without --as-of the demo's fleet ends at the real now; later commands still see it
    then (its pinned now), not an hour later when every node would be silent."""
    from datetime import timedelta

    from bot.deps import Deps
    from finops_bot.config import Settings

    db = connect(tmp_path / "f.db")
    load_fleet(db, NOW)
    later = Deps(Settings(), NOW + timedelta(hours=2), NOW.date(), NOW + timedelta(hours=2))
    assert later.fleet_now(db) == NOW
    states = {n.state for n in fleet(db, later.fleet_now(db))}
    assert "idle" in states and "busy" in states
    from tests.finops_bot.gpu.test_fleet import beat

    beat(db, 1, [90.0] * 8, node="i-real", t0=NOW + timedelta(hours=1))  # a real agent
    assert later.fleet_now(db) == later.answer_now  # the fleet is no longer only the demo's
    db.close()
