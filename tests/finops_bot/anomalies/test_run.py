"""Detection over real caches: the demo's planted events are found and nothing else, one
alert per event (broader subjects are part of it), root causes rank the mover, purchases
are events, a restatement re-evaluates (never duplicates; what it erases is withdrawn),
statuses keep who and when in an append-only history, and a real CUR raises nothing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from finops_bot.anomalies.rules import AnomalyRules
from finops_bot.anomalies.run import find, save
from finops_bot.demo import load_demo
from finops_bot.ingest.importer import import_file
from finops_bot.ingest.tags import TagRules
from finops_bot.store import anomalies as stored
from finops_bot.store import connect
from tests.conftest import NOW, TODAY, charge, write_focus

RULES = AnomalyRules()
THROUGH = date(2026, 11, 21)
LATER = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TAGS = TagRules({"project": ("project",), "team": ("team",), "owner": ("owner",)})


@pytest.fixture
def demo(tmp_path: Path):
    db = connect(tmp_path / "demo.db")
    load_demo(db, TODAY, NOW, TAGS)
    yield db
    db.close()


def alerts(result):
    return sorted((a.dim, a.key, a.kind, a.start) for a in result.anomalies if a.part_of is None)


def test_the_demo_raises_its_spike_its_level_shift_and_the_forgotten_box(demo):
    result = find(demo, RULES, THROUGH)
    assert alerts(result) == [
        ("account", "555566667777", "level_shift", "2026-09-23"),  # the untagged p3 box
        ("project", "llm-finetune", "spike", "2026-11-02"),
        ("project", "vision-research", "level_shift", "2026-10-08"),
    ]
    spike = next(a for a in result.anomalies if a.key == "llm-finetune")
    assert spike.detected_on == spike.start  # delay 0
    assert spike.impact > 7000 and spike.currency == "USD" and spike.measure == "EffectiveCost"
    services = [c["value"] for c in spike.root_cause if c["dimension"] == "service"]
    assert services[0] == "Amazon Elastic Compute Cloud"
    parts = [a for a in result.anomalies if a.part_of == spike.id]
    assert {a.dim for a in parts} >= {"team", "owner", "service", "provider"}
    assert {e.kind for e in result.events} == {"purchase"}  # the monthly commitment
    assert all(e.measure == "BilledCost" and e.actual >= 1000 for e in result.events)


def test_storing_twice_is_storing_once_and_statuses_keep_who_and_when(demo):
    result = find(demo, RULES, THROUGH)
    first = save(demo, result, RULES.dimensions, LATER, "EffectiveCost")
    again = save(demo, find(demo, RULES, THROUGH), RULES.dimensions, LATER, "EffectiveCost")
    assert first.new and again.new == () and again.updated == 0 and again.withdrawn == ()
    count = demo.execute("SELECT COUNT(*) FROM anomalies").fetchone()[0]
    assert count == len(result.anomalies) + len(result.events)
    spike = next(a for a in result.anomalies if a.key == "llm-finetune")
    marked = stored.set_status(demo, spike.id, "acknowledged", "U0ALICE", LATER, "on it")
    assert marked.status == "acknowledged"
    assert [h["by"] for h in marked.history] == ["detector", "U0ALICE"]
    assert marked.history[-1] == {"at": LATER.isoformat(), "status": "acknowledged",
                                  "by": "U0ALICE", "note": "on it"}  # fmt: skip
    stored.set_status(demo, spike.id, "acknowledged", "U0ALICE", LATER)  # twice: once
    save(demo, find(demo, RULES, THROUGH), RULES.dimensions, LATER, "EffectiveCost")
    kept = stored.get(demo, spike.id)
    assert kept.status == "acknowledged" and len(kept.history) == 2  # a person's word stays
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        demo.execute("DELETE FROM anomaly_status")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        demo.execute("UPDATE anomaly_status SET by = 'x'")
    assert stored.set_status(demo, "an_nope", "expected", "U0", LATER) is None
    with pytest.raises(ValueError):
        stored.set_status(demo, spike.id, "resolved", "U0", LATER)


def _project(days: list[str], cost, spike_day: str | None = None, spike: float = 0.0):
    return [charge(d, cost + (spike if d == spike_day else 0.0), project="p1", team="t1")
            for d in days]  # fmt: skip


def test_a_restated_day_is_re_evaluated_and_an_erased_spike_withdrawn(tmp_path):
    db = connect(tmp_path / "c.db")
    days = [f"2026-{m:02d}-{d:02d}" for m in (9, 10) for d in range(1, 31)]
    path = write_focus(tmp_path / "bill.csv", _project(days, 500.0, "2026-10-20", 2000.0))
    import_file(db, path, rules=TAGS, now=NOW)
    result = find(db, RULES, date(2026, 10, 30), dims=["project"])
    (spike,) = [a for a in result.anomalies if a.part_of is None]
    assert (spike.key, spike.start, spike.kind) == ("p1", "2026-10-20", "spike")
    save(db, result, ["project"], LATER, "EffectiveCost")
    restated = write_focus(tmp_path / "bill.csv", _project(days, 500.0))  # the bill restated
    import_file(db, restated, rules=TAGS, now=NOW)
    again = find(db, RULES, date(2026, 10, 30), dims=["project"])
    saved = save(db, again, ["project"], LATER, "EffectiveCost")
    assert saved.withdrawn == (spike.id,)
    gone = stored.get(db, spike.id)
    assert gone.status == "withdrawn" and gone.history[-1]["note"] == "no longer found in the data"
    db.close()


def test_two_processes_storing_at_once_store_each_anomaly_once(demo, tmp_path):
    import multiprocessing

    path = Path(demo.conn.execute("PRAGMA database_list").fetchone()[2])
    ctx = multiprocessing.get_context("fork")
    runs = [ctx.Process(target=_detect_and_save, args=(str(path),)) for _ in range(2)]
    for p in runs:
        p.start()
    for p in runs:
        p.join(60)
        assert p.exitcode == 0
    ids = demo.execute(
        "SELECT anomaly_id FROM anomaly_status GROUP BY anomaly_id HAVING COUNT(*) > 1"
    )
    assert ids.fetchall() == []  # one "detector" line per anomaly, not two
    rows = demo.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM anomalies").fetchone()
    assert rows[0] == rows[1] > 0


def _detect_and_save(path: str) -> None:
    db = connect(path)
    save(db, find(db, RULES, THROUGH), RULES.dimensions, LATER, "EffectiveCost")
    db.close()


def test_a_real_cur_raises_nothing(shared_fixtures, tmp_path):
    """The Well-Architected lab's CUR: its 1st-of-month EC2 'spikes' in the daily totals
    are reserved-instance fees, ChargeCategory Purchase once imported: no usage anomaly."""
    files = sorted((shared_fixtures / "aws" / "cur").glob("wa_labs_WorkshopCUR_2018-1*.parquet"))
    if len(files) < 3:
        pytest.skip("the Well-Architected lab CUR parquet files are absent")
    db = connect(tmp_path / "cur.db")
    for f in files:
        import_file(db, f, rules=TAGS, now=NOW)
    result = find(db, RULES, date(2018, 12, 31))
    assert alerts(result) == [] and result.series > 10
    small = find(db, AnomalyRules(purchase_event_min=100.0), date(2018, 12, 31))
    assert {e.start for e in small.events} >= {"2018-11-01"}  # the RI fee is an event
    db.close()


def test_the_gpus_behind_a_spike_say_whether_it_does_work(demo):
    """Heartbeats from the spiking p5 node (its instance id joins the billing resource):
    half its minutes busy, half idle."""
    from tests.finops_bot.gpu.test_fleet import beat

    t0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    node = "i-0c4b2d3e5f6a70001"
    for minute in range(1, 61):
        util = 90.0 if minute <= 30 else 0.0
        beat(demo, minute, [util] * 8, node=node, itype="p5.48xlarge", project="llm-finetune",
             owner="bob@acme.ai", t0=t0)  # fmt: skip
    result = find(demo, RULES, THROUGH, dims=["project"])
    spike = next(a for a in result.anomalies if a.key == "llm-finetune")
    activity = spike.gpu_activity
    assert activity["nodes"] == 1 and activity["busy_share"] == pytest.approx(0.5, abs=0.02)
    assert activity["idle_dollars"] > 0
    shift = next(a for a in result.anomalies if a.key == "vision-research")
    assert shift.gpu_activity is None  # no heartbeats from its nodes


def test_a_level_shift_marked_expected_is_the_new_baseline(demo):
    result = find(demo, RULES, THROUGH, dims=["project"])
    save(demo, result, ["project"], LATER, "EffectiveCost")
    shift = next(a for a in result.anomalies if a.key == "vision-research")
    stored.set_status(demo, shift.id, "expected", "U0CAROL", LATER, "new a3 node, planned")
    again = find(demo, RULES, THROUGH, dims=["project"])
    same = next(a for a in again.anomalies if a.id == shift.id)
    assert same.status == "expected" and same.last_day == same.start  # closed at once
    save(demo, again, ["project"], LATER, "EffectiveCost")
    assert stored.get(demo, shift.id).status == "expected"  # a person's word is kept
