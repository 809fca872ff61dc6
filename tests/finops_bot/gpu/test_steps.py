"""The cost of a training step: steps from the jobs' progress counters (never added across
a data-parallel job's nodes, restarts as segments), GPU-minutes × price per node-day, the
billed cost replacing the estimate where billing covers, retention, scopes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from finops_bot.gpu.heartbeat import store_batches, validate_batch
from finops_bot.gpu.prices import PriceBook
from finops_bot.gpu.steps import BILLED, ESTIMATE, count_steps, kept_from, step_costs
from finops_bot.ingest.importer import import_file
from tests.conftest import charge, write_focus

P4D = 32.77  # bundled on-demand $/h of an aws p4d.24xlarge, 8 GPUs
PER_GPU_MINUTE = P4D / 8 / 60
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WEEK = (date(2026, 11, 16), date(2026, 11, 20))


def run(
    db,
    node: str,
    start: str,
    count: int,
    progress,
    *,
    job: str | None = "llama-7b",
    project: str = "bert-training",
    owner: str = "alice",
    gpus: int = 8,
) -> None:
    """``count`` one-minute heartbeats of an aws p4d node from ``start`` (ISO, UTC);
    ``progress(m)`` is the counter at minute m (None: no counter)."""
    t0 = datetime.fromisoformat(start).replace(tzinfo=UTC)
    items = []
    for m in range(count):
        end = t0 + timedelta(minutes=m + 1)
        payload = {
            "schema": "finops.heartbeat/v1",
            "batch_id": f"{node}-{end:%Y%m%d%H%M}",
            "node": {
                "hostname": node,
                "provider": "aws",
                "instance_id": node,
                "instance_type": "p4d.24xlarge",
                "region": "us-east-1",
                "spot": False,
            },
            "labels": {"project": project, "owner": owner, "job": job},
            "progress": progress(m),
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
                    "util": {"min": 90.0, "mean": 90.0, "max": 90.0},
                    "processes": [{"pid": 100 + i, "used_memory_mb": 2048}],
                }
                for i in range(gpus)
            ],
        }
        items.append((1, validate_batch(payload)))
    store_batches(db, items, t0 + timedelta(minutes=count))


def costs(db, start=WEEK[0], end=WEEK[1], **kw):
    return step_costs(db, PriceBook(), start, end, NOW, **kw)


def test_count_steps_adds_segments_after_a_restart():
    assert count_steps([]) == (0, 0)
    assert count_steps([5]) == (0, 1)
    assert count_steps([10, 20, 30]) == (20, 1)
    assert count_steps([10, 20, 30, 0, 5, 25]) == (20 + 25, 2)
    assert count_steps([100, 200, 150, 300]) == (100 + 150, 2)  # resumed from a checkpoint


def test_an_8_node_data_parallel_job_counts_its_steps_once(db):
    for n in range(8):
        run(db, f"i-dp{n}", "2026-11-18T10:00", 60, lambda m: 1000 + 10 * m)
    found = costs(db)
    job = found.groups["llama-7b"]
    assert job.steps == 590 and job.segments == 1  # not 8 × 590
    assert job.gpu_minutes == 8 * 8 * 60
    assert job.money() == {(ESTIMATE, "USD"): pytest.approx(8 * 8 * 60 * PER_GPU_MINUTE)}
    assert len(job.nodes) == 8 and job.no_progress == set()
    assert found.price_basis() == "bundled 2026-11-01 (8 nodes)"


def test_a_lagging_node_does_not_make_steps(db):
    run(db, "i-a", "2026-11-18T10:00", 30, lambda m: 10 * m)
    run(db, "i-b", "2026-11-18T10:00", 30, lambda m: 10 * max(m - 1, 0))  # a minute behind
    run(db, "i-c", "2026-11-18T10:00", 30, lambda m: None)  # reports no counter
    job = costs(db).groups["llama-7b"]
    assert job.steps == 290 and job.segments == 1
    assert job.no_progress == {"i-c"} and job.gpu_minutes == 3 * 8 * 30


def test_two_jobs_each_their_own_steps_and_minutes(db):
    run(db, "i-a", "2026-11-18T10:00", 30, lambda m: 100 + m)
    run(db, "i-b", "2026-11-18T10:00", 20, lambda m: 5000 + 50 * m, job="bert-base")
    groups = costs(db).groups
    assert (groups["llama-7b"].steps, groups["bert-base"].steps) == (29, 950)
    assert (groups["llama-7b"].gpu_minutes, groups["bert-base"].gpu_minutes) == (240, 160)


def test_a_restart_from_scratch_is_a_new_segment(db):
    run(db, "i-a", "2026-11-18T10:00", 30, lambda m: 500 + 10 * m)  # 500 … 790
    run(db, "i-a", "2026-11-18T11:00", 20, lambda m: 10 * m)  # from scratch: 0 … 190
    job = costs(db).groups["llama-7b"]
    assert (job.steps, job.segments) == (290 + 190, 2)


def test_by_project_and_owner_group_the_minutes(db):
    run(db, "i-a", "2026-11-18T10:00", 30, lambda m: m)
    run(db, "i-b", "2026-11-18T10:00", 30, lambda m: m, job="other", project="vision")
    found = costs(db, by="project")
    assert {k: g.gpu_minutes for k, g in found.groups.items()} == {
        "bert-training": 240,
        "vision": 240,
    }
    assert all(g.steps is None for g in found.groups.values())  # steps are per job
    assert set(costs(db, by="owner").groups) == {"alice"}


def bill(db, rules, tmp_path, rows) -> None:
    import_file(db, write_focus(tmp_path / "bill.csv", rows), rules=rules, now=NOW)


def test_billed_cost_replaces_the_estimate_for_the_days_billing_covers(db, rules, tmp_path):
    run(db, "i-a", "2026-11-18T10:00", 30, lambda m: 10 * m)
    run(db, "i-a", "2026-11-18T11:00", 10, lambda m: 1000 + m, job="bert-base")  # same node-day
    run(db, "i-a", "2026-11-19T10:00", 30, lambda m: 300 + 10 * m)
    # billing through Nov 18: the node's instance costs 700 that day (and an unrelated one)
    bill(db, rules, tmp_path, [charge("2026-11-18", 700.0, resource="i-a"), charge(
        "2026-11-18", 55.0, resource="i-other")])  # fmt: skip
    found = costs(db)
    llama, bert = found.groups["llama-7b"], found.groups["bert-base"]
    by_day = {(p.day, p.source): p.amount for p in llama.parts}
    assert by_day == {
        ("2026-11-18", BILLED): pytest.approx(700.0 * 30 / 40),  # its share of the node-day
        ("2026-11-19", ESTIMATE): pytest.approx(240 * PER_GPU_MINUTE),
    }
    assert bert.money() == {(BILLED, "USD"): pytest.approx(700.0 * 10 / 40)}
    assert llama.steps == 590  # 0…290, then 300…590 the next day: one segment
    assert llama.days(BILLED) == {"2026-11-18"} and llama.days(ESTIMATE) == {"2026-11-19"}
    assert found.uncovered == set()


def test_a_covered_day_without_the_nodes_charge_stays_an_estimate(db, rules, tmp_path):
    run(db, "i-a", "2026-11-18T10:00", 30, lambda m: m)
    bill(db, rules, tmp_path, [charge("2026-11-18", 55.0, resource="i-other")])
    found = costs(db)
    assert {p.source for p in found.groups["llama-7b"].parts} == {ESTIMATE}
    assert found.uncovered == {("i-a", "2026-11-18")}


def test_an_arn_in_billing_matches_the_nodes_instance_id(db, rules, tmp_path):
    run(db, "i-0abc", "2026-11-18T10:00", 30, lambda m: m)
    arn = "arn:aws:ec2:us-east-1:111:instance/i-0abc"
    bill(db, rules, tmp_path, [charge("2026-11-18", 640.0, resource=arn)])
    money = costs(db).groups["llama-7b"].money()
    assert money == {(BILLED, "USD"): pytest.approx(640.0)}


def test_days_before_the_retention_are_not_counted(db):
    assert kept_from(NOW, 14) == date(2026, 11, 7)
    assert kept_from(datetime(2026, 11, 20, 0, 0, tzinfo=UTC), 14) == date(2026, 11, 6)
    run(db, "i-a", "2026-11-18T10:00", 30, lambda m: m)
    found = costs(db, start=date(2026, 11, 1))
    assert (found.start, found.kept_from) == (date(2026, 11, 7), date(2026, 11, 7))
    assert found.groups["llama-7b"].gpu_minutes == 240
    old = costs(db, start=date(2026, 10, 1), end=date(2026, 10, 31))
    assert old.start is None and old.groups == {}


def test_now_cuts_the_period(db):
    run(db, "i-a", "2026-11-20T11:30", 60, lambda m: m)  # runs to 12:30, past NOW (12:00)
    assert costs(db).groups["llama-7b"].gpu_minutes == 8 * 30


def test_unlabelled_minutes_count_under_the_nodes_only_job(db):
    run(db, "i-a", "2026-11-18T10:00", 20, lambda m: m, job=None)  # before minutes kept jobs
    run(db, "i-a", "2026-11-18T10:20", 20, lambda m: 20 + m)
    run(db, "i-b", "2026-11-18T10:00", 20, lambda m: m, job=None)
    run(db, "i-b", "2026-11-18T10:20", 10, lambda m: m, job="other")
    run(db, "i-b", "2026-11-18T10:30", 10, lambda m: m, job="third")  # latest: third
    found = costs(db)
    assert found.groups["llama-7b"].gpu_minutes == 8 * 40
    assert found.groups["llama-7b"].steps == 39
    assert found.fallback == {"i-a": ("llama-7b", 160)}
    assert found.groups[""].gpu_minutes == 8 * 20  # i-b ran two jobs: its bare minutes stay bare


def test_a_scope_keeps_whole_groups_only(db):
    run(db, "i-a", "2026-11-18T10:00", 30, lambda m: m)
    run(db, "i-b", "2026-11-18T10:00", 30, lambda m: m, job="v1", project="vision", owner="dan")
    run(db, "i-c", "2026-11-18T10:00", 30, lambda m: m, job="mixed", project="vision")
    run(db, "i-d", "2026-11-18T10:00", 30, lambda m: m, job="mixed")

    def keep(values):
        return values.get("project") == "bert-training"

    found = costs(db, keep=keep)
    assert set(found.groups) == {"llama-7b"}
    assert found.outside == 1  # "mixed" is partly outside: left out whole
    assert {"v1", "vision", "mixed", "dan"} <= found.hidden
