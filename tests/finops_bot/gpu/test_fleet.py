"""Fleet states with a controlled clock: busy, idle, idle with memory held, partly idle,
stalled vs finished, silent; timers; idle dollars now and over a period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from finops_bot.gpu.fleet import fleet, idle_cost
from finops_bot.gpu.heartbeat import store_batch, validate_batch

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
):
    end = T0 + timedelta(minutes=minute)
    procs = procs or [0] * len(utils)
    payload = {
        "schema": "finops.heartbeat/v1",
        "batch_id": f"{node}-{minute:05d}",
        "node": {
            "hostname": node,
            "provider": "aws",
            "instance_id": node,
            "instance_type": itype,
            "spot": spot,
        },
        "labels": {"project": project, "owner": "alice"},
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
                "util": {"min": u, "mean": u, "max": u},
                "processes": [{"pid": 100 + i, "used_memory_mb": 2048}] if procs[i] else [],
            }
            for i, u in enumerate(utils)
        ],
    }
    store_batch(db, 1, validate_batch(payload), end)


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
