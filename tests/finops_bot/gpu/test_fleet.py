"""Fleet states with a controlled clock: busy, idle, idle with memory held, partly idle,
stalled vs finished, silent; timers; idle dollars now and over a period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from finops_bot.config import load_settings
from finops_bot.errors import ConfigError
from finops_bot.gpu.fleet import FleetRules, fleet, idle_cost, parse_fleet_rules, price_bases
from finops_bot.gpu.heartbeat import store_batch, validate_batch
from finops_bot.gpu.prices import InstancePrice, PriceBook, gpu_model

T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def beat(
    db,
    minute: int,
    utils: list[float],
    *,
    node="i-0abc",
    itype="p4d.24xlarge",
    project="bert-training",
    progress=None,
    procs: list[int] | None = None,
    spot=False,
    provider="aws",
    region=None,
    gpu_name=None,
    batch_id=None,
    idle_util=5.0,
    owner="alice",
    t0=T0,
):
    end = t0 + timedelta(minutes=minute)
    procs = procs or [0] * len(utils)
    payload = {
        "schema": "finops.heartbeat/v1",
        "batch_id": batch_id or f"{node}-{minute:05d}",
        "node": {
            "hostname": node,
            "provider": provider,
            "instance_id": node,
            "instance_type": itype,
            "region": region,
            "spot": spot,
        },
        "labels": {"project": project, "owner": owner},
        "progress": progress,
        "window": {
            "start": (end - timedelta(minutes=1)).isoformat(),
            "end": end.isoformat(),
            "samples": 6,
        },
        "gpus": [
            {
                "index": i,
                "uuid": f"{node}-gpu{i}",
                "state": "ok",
                "name": gpu_name,
                "util": {"min": u, "mean": u, "max": u},
                "processes": [{"pid": 100 + i, "used_memory_mb": 2048}] if procs[i] else [],
            }
            for i, u in enumerate(utils)
        ],
    }
    store_batch(db, 1, validate_batch(payload), end, idle_util)


def minutes(db, start, stop, utils, **kw):
    for m in range(start, stop):
        beat(db, m, utils, **kw)


def state_at(db, minute):
    return {n.node: n for n in fleet(db, T0 + timedelta(minutes=minute))}


def test_busy(db):
    minutes(db, 0, 40, [80.0] * 8)
    node = state_at(db, 40)["i-0abc"]
    assert node.state == "busy" and node.idle_hourly == 0


def test_idle_after_30_minutes_and_the_timer_resets(db):
    minutes(db, 0, 10, [90.0] * 8)
    minutes(db, 10, 35, [1.0] * 8)
    assert state_at(db, 35)["i-0abc"].state == "busy"  # idle 25 min: not yet
    minutes(db, 35, 45, [1.0] * 8)
    node = state_at(db, 45)["i-0abc"]
    assert node.state == "idle"
    assert node.since == (T0 + timedelta(minutes=10)).replace(tzinfo=None)
    assert node.idle_hourly == pytest.approx(32.77)
    assert node.idle_dollars(T0.replace(tzinfo=None) + timedelta(minutes=45)) == pytest.approx(
        32.77 * 35 / 60
    )
    beat(db, 45, [50.0] + [1.0] * 7)  # one GPU works again: its timer resets
    node = state_at(db, 46)["i-0abc"]
    assert node.state == "partly idle"
    assert sum(g.idle for g in node.gpus) == 7


def test_idle_with_memory_held(db):
    minutes(db, 0, 40, [0.0] * 8, procs=[1] + [0] * 7)
    assert state_at(db, 40)["i-0abc"].state == "idle, memory held"


def test_stalled_versus_finished(db):
    minutes(db, 0, 10, [95.0] * 8, progress=100, procs=[1] * 8)
    for m in range(10, 45):
        beat(db, m, [95.0] * 8, progress=200, procs=[1] * 8)  # counter stuck at 200
    node = state_at(db, 45)["i-0abc"]
    assert node.state == "stalled"
    assert node.since == (T0 + timedelta(minutes=10)).replace(tzinfo=None)
    # the job finished and left: the counter stops, no process, GPUs idle → idle
    minutes(db, 0, 45, [0.0] * 8, node="i-0done", progress=500)
    assert state_at(db, 45)["i-0done"].state == "idle"


def test_silent_is_never_idle(db):
    minutes(db, 0, 40, [0.0] * 8)
    node = state_at(db, 50)["i-0abc"]  # last heartbeat 10 minutes ago
    assert node.state == "silent" and node.idle_hourly is None
    assert all(not g.idle for g in node.gpus)


def test_spot_and_unknown_prices(db):
    minutes(db, 0, 40, [0.0] * 8, spot=True)
    minutes(db, 0, 40, [0.0], node="i-0odd", itype="x9.mega")
    nodes = state_at(db, 40)
    assert nodes["i-0abc"].idle_hourly == pytest.approx(11.57)  # the Spot price
    assert nodes["i-0odd"].hourly is None and nodes["i-0odd"].idle_dollars(T0) is None


def test_idle_cost_per_project_over_a_period(db):
    minutes(db, 0, 60, [0.0] * 8)  # bert-training: 60 idle minutes x 8 GPUs
    minutes(db, 0, 60, [0.0] + [90.0] * 3, node="i-0g5", itype="g5.12xlarge", project="recsys")
    rows = idle_cost(db, T0, T0 + timedelta(hours=1))
    assert rows[0] == ("bert-training", pytest.approx(32.77), 480)
    assert rows[1] == ("recsys", pytest.approx(5.672 / 4), 60)


def test_the_question_engine_answers_gpu_questions(db):
    from finops_bot.questions import Engine
    from finops_bot.render.text import render_text

    minutes(db, 0, 60, [0.0] * 8)
    minutes(db, 0, 60, [90.0] * 4, node="i-0busy", itype="g5.12xlarge", project="recsys")
    engine = Engine(db)
    now = T0 + timedelta(minutes=60)
    a = engine.ask("which GPUs are idle", now.date(), now)
    assert a.kind == "idle_gpus" and a.total == pytest.approx(32.77)
    assert len(a.rows) == 1 and "bert-training" in a.rows[0].key and "8/8 GPUs" in a.rows[0].key
    cost = engine.ask("idle GPU cost for bert-training today", now.date(), now)
    assert cost.kind == "idle_cost" and cost.total == pytest.approx(32.77)
    assert cost.filters == {"project": "bert-training"}
    assert "480 idle GPU-minutes" in render_text(cost)
    by_owner = engine.ask("idle gpu cost by owner today", now.date(), now)
    assert [r.key for r in by_owner.rows] == ["alice"]
    none = Engine(db).ask("idle GPU cost for recsys today", now.date(), now)
    assert none.totals == {}  # recsys never idled
    text = render_text(a)
    assert text.startswith("Idle GPUs now\n  $32.77/h\n")  # dollars per hour, no separator
    quiet = Engine(db).ask("which GPUs are idle", now.date(), now + timedelta(hours=1))
    assert "No idle or stalled GPUs now." in render_text(quiet)  # all silent by then
    assert "No idle GPU time in" in render_text(none)
    assert "Heartbeats through 2026-11-22 06:59:00 UTC." in text  # not "no billing data"


def test_unlabelled_nodes_take_owner_and_project_from_billing_tags(db, rules):
    from datetime import date

    from finops_bot.demo import load_demo

    load_demo(db, date(2026, 11, 22), T0, rules)  # has i-0b3a1c2d4e5f60001 tagged bert-training
    node = "i-0b3a1c2d4e5f60001"
    for m in range(0, 40):
        end = T0 + timedelta(minutes=m)
        store_batch(
            db,
            1,
            validate_batch(
                {
                    "schema": "finops.heartbeat/v1",
                    "batch_id": f"unlabelled-{m:05d}",
                    "node": {
                        "hostname": "ip-10-0-0-7",
                        "provider": "aws",
                        "instance_id": node,
                        "instance_type": "p4d.24xlarge",
                        "spot": False,
                    },
                    "window": {
                        "start": (end - timedelta(minutes=1)).isoformat(),
                        "end": end.isoformat(),
                        "samples": 6,
                    },
                    "gpus": [
                        {
                            "index": i,
                            "uuid": f"u{i}",
                            "state": "ok",
                            "util": {"min": 0, "mean": 0, "max": 0},
                        }
                        for i in range(8)
                    ],
                }
            ),
            end,
        )
    state = state_at(db, 40)[node]
    assert (state.project, state.owner) == ("bert-training", "alice@acme.ai")
    assert idle_cost(db, T0, T0 + timedelta(hours=1))[0][0] == "bert-training"


def test_a_late_batch_keeps_the_newer_state_but_its_busy_minute_counts(db):
    minutes(db, 0, 40, [0.0])
    assert state_at(db, 40)["i-0abc"].state == "idle"
    beat(db, 35, [90.0], batch_id="late-batch-35")  # from an agent's buffer
    node = state_at(db, 40)["i-0abc"]
    assert node.state == "busy" and node.gpus[0].util == 0.0  # the newest reading stays
    minutes(db, 40, 66, [0.0])
    assert state_at(db, 66)["i-0abc"].since == datetime(2026, 11, 22, 6, 36)


def test_the_idle_threshold_is_configurable(db):
    # the endpoint applies it as batches arrive (the busy timer); idle_cost over the minutes
    minutes(db, 0, 40, [20.0], idle_util=50.0)
    assert state_at(db, 40)["i-0abc"].state == "idle"
    rules = FleetRules(idle_util=50.0)
    assert idle_cost(db, T0, T0 + timedelta(hours=1), rules=rules)[0][2] == 40
    assert idle_cost(db, T0, T0 + timedelta(hours=1)) == []


def test_gcp_nodes_are_priced_from_the_catalog_then_config_wins(db):
    rows = [
        ("SKU-A", "OnDemand", 3.93),
        ("SKU-B", "Preemptible", 1.57),
    ]
    for sku, usage, price in rows:
        db.execute(
            "INSERT INTO gpu_prices VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                "Google Cloud",
                sku,
                usage,
                "Nvidia Tesla A100 80GB GPU running in Americas",
                '["us-central1"]',
                "USD",
                "h",
                price,
                "2026-10-01T00:00:00Z",
                "gcp-billing",
                "2026-11-22T00:00:00+00:00",
            ),
        )
    common = dict(provider="gcp", itype="a2-ultragpu-8g", gpu_name="NVIDIA A100-SXM4-80GB")
    minutes(db, 0, 40, [0.0] * 8, node="on-demand", region="us-central1", **common)
    minutes(db, 0, 40, [0.0] * 8, node="spot", region="us-central1", spot=True, **common)
    minutes(db, 0, 40, [0.0] * 8, node="europe", region="europe-west4", **common)
    nodes = state_at(db, 40)
    assert nodes["on-demand"].hourly == pytest.approx(3.93 * 8)
    assert nodes["on-demand"].price_basis == "GCP catalog 2026-10-01"
    assert nodes["spot"].hourly == pytest.approx(1.57 * 8)
    assert nodes["europe"].price_basis == "bundled 2026-11-01"  # no catalog price there
    assert price_bases(list(nodes.values())) == (
        "GCP catalog 2026-10-01 (2 nodes), bundled 2026-11-01 (1 node)"
    )
    book = PriceBook({("gcp", "a2-ultragpu-8g"): InstancePrice(8, 40.0, 12.0)})
    node = fleet(db, T0 + timedelta(minutes=40), book)[0]
    assert node.price_basis == "config" and node.hourly == 40.0


@pytest.mark.parametrize(
    "text, model",
    [
        ("NVIDIA A100-SXM4-80GB", "A100 80GB"),
        ("NVIDIA A100-SXM4-40GB", "A100"),
        ("Nvidia Tesla A100 80GB GPU running in Americas", "A100 80GB"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("Nvidia H100 80GB Mega GPU running in Americas", "H100 MEGA"),
        ("Tesla T4", "T4"),
        ("NVIDIA L4", "L4"),
        ("Nvidia L4 GPU attached to Spot Preemptible VMs running in Belgium", "L4"),
        ("NVIDIA GeForce RTX 4090", None),
        (None, None),
    ],
)
def test_gpu_models_match_between_nvml_and_the_catalog(text, model):
    assert gpu_model(text) == model


@pytest.mark.parametrize(
    "raw, message",
    [
        ("5", "[fleet] must be a table"),
        ({"idle_percent": 5}, "idle_percent: unknown"),
        ({"idle_util": 0}, "idle_util: give a number from 0.1 to 100"),
        ({"idle_minutes": 2.5}, "idle_minutes: give a whole number"),
        ({"silent_minutes": True}, "silent_minutes: give a whole number"),
    ],
)
def test_bad_fleet_settings_are_named(raw, message):
    with pytest.raises(ConfigError) as err:
        parse_fleet_rules(raw)
    assert message in str(err.value)


def test_fleet_settings_come_from_the_config_file(tmp_path):
    config = tmp_path / "finops-bot.toml"
    config.write_text("[fleet]\nidle_util = 10\nidle_minutes = 15\nretention_days = 7\n")
    rules = load_settings({}, config).fleet
    assert (rules.idle_util, rules.idle_minutes, rules.retention_days) == (10, 15, 7)
    assert rules.stall_minutes == 30


def test_idle_only_finds_the_same_idle_and_stalled_nodes_as_the_whole_fleet(db):
    minutes(db, 0, 40, [90.0, 90.0], node="busy-node")
    minutes(db, 0, 40, [0.0, 0.0], node="idle-node")
    minutes(db, 0, 40, [0.0, 80.0], node="partly-node")
    minutes(db, 0, 40, [50.0, 50.0], node="stalled-node", progress=7, procs=[1, 1])
    now = T0 + timedelta(minutes=40)
    wanted = {"idle", "idle, memory held", "partly idle", "stalled"}
    everything = {n.node: n.state for n in fleet(db, now) if n.state in wanted}
    chosen = {n.node: n.state for n in fleet(db, now, idle_only=True)}
    assert (
        everything
        == chosen
        == {
            "idle-node": "idle",
            "partly-node": "partly idle",
            "stalled-node": "stalled",
        }
    )


def test_retention_forgets_nodes_not_heard_from(db):
    from finops_bot.gpu.heartbeat import prune

    minutes(db, 0, 3, [0.0], node="gone")
    minutes(db, 0, 3, [0.0], node="here")
    beat(db, 60 * 24 * 15, [0.0], node="here")
    prune(db, T0 + timedelta(days=15), keep_days=14)
    assert [n.node for n in fleet(db, T0 + timedelta(days=15))] == ["here"]


def test_idle_answers_name_silent_nodes_count_stalls_and_filter(db):
    from finops_bot.questions import Engine

    minutes(db, 0, 60, [0.0] * 8)  # alice, idle
    minutes(db, 0, 60, [95.0] * 8, node="i-0stuck", progress=7, procs=[1] * 8, owner="bob")
    minutes(db, 0, 20, [90.0] * 4, node="i-0gone", itype="g5.12xlarge", owner="carol")
    engine = Engine(db)
    now = T0 + timedelta(minutes=60)
    a = engine.ask("which GPUs are idle", now.date(), now)
    assert a.total == pytest.approx(32.77 + 32.77)  # the stalled node wastes all of it
    assert any(
        "1 node stopped reporting (i-0gone) — they may still be billing" in n for n in a.notes
    )
    alice = engine.ask("idle gpus for alice", now.date(), now)
    assert alice.total == pytest.approx(32.77) and len(alice.rows) == 1
    assert alice.filters == {"owner or project": "alice"}
    carol = engine.ask("which gpus are idle for owner carol", now.date(), now)
    assert carol.totals == {} and carol.nothing == "No idle or stalled GPUs now for carol."


def test_the_clock_rule():
    from datetime import date

    from bot.clock import as_of

    real = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert as_of(None, real) == (date(2026, 12, 1), real)
    assert as_of(date(2026, 12, 1), real) == (date(2026, 12, 1), real)
    today, now = as_of(date(2026, 11, 22), real)  # --as-of an earlier day: its evening
    assert today == date(2026, 11, 22) and (now.hour, now.minute) == (23, 59)


def test_slack_answers_gpu_questions_at_the_real_time(db_path):
    """/finops and the Share button go through AnswerService, which reads bot.clock: a node
    heard a minute ago is idle, not silent (the end of today would make it silent)."""
    from bot.answers import AnswerService
    from finops_bot.store import connect

    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=45)
    minutes(connect(db_path), 0, 45, [0.0] * 8, t0=start)
    service = AnswerService(db_path, "EffectiveCost", today=lambda: datetime.now(UTC).date())
    answer = service.ask("which GPUs are idle", service.today())
    assert answer.total == pytest.approx(32.77)
    assert not any("stopped reporting" in n for n in answer.notes)
