"""The live burn: heartbeats × price for the days billing does not cover yet (per provider,
replaced when billing lands), and the fleet's $/h now (silent nodes named, not priced)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from finops_bot.gpu.burn import LiveEstimate, billed_through, burn_now, live_estimate, live_line
from finops_bot.gpu.fleet import FleetRules
from finops_bot.gpu.prices import InstancePrice, PriceBook
from finops_bot.ingest.importer import import_file
from tests.conftest import charge, write_focus
from tests.finops_bot.gpu.test_fleet import T0, beat, minutes

P4D = 32.77  # bundled on-demand $/h, 8 GPUs
A2 = 29.39  # gcp a2-highgpu-8g
NOW = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)


def day_beats(db, day: str, node: str, count: int = 10, **kw) -> None:
    """``count`` one-minute heartbeats of an 8-GPU node from 10:00 UTC on ``day``."""
    t0 = datetime.fromisoformat(f"{day}T10:00:00+00:00")
    for m in range(count):
        beat(db, m, [90.0] * 8, node=node, t0=t0, batch_id=f"{node}-{day}-{m}", **kw)


def bill(db, rules, tmp_path, name: str, provider: str, last: int, **kw) -> None:
    rows = [charge(f"2026-11-{d:02d}", 100.0, provider=provider, **kw) for d in range(1, last + 1)]
    import_file(db, write_focus(tmp_path / f"{name}.csv", rows), rules=rules, now=NOW)


@pytest.fixture
def fleet_db(db):
    for day in ("2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"):
        day_beats(db, day, "i-aws")
        day_beats(db, day, "a2-gcp", provider="gcp", itype="a2-highgpu-8g", project="vision")
    return db


def estimate(db, prices=None, keep=None, start=date(2026, 11, 15), end=date(2026, 11, 19)):
    return live_estimate(db, prices or PriceBook(), start, end, NOW, keep)


def test_each_provider_is_estimated_after_its_own_billing(fleet_db, rules, tmp_path):
    bill(fleet_db, rules, tmp_path, "aws", "AWS", 17)
    bill(fleet_db, rules, tmp_path, "gcp", "Google Cloud", 16, service="Compute Engine")
    assert billed_through(fleet_db) == {"aws": date(2026, 11, 17), "gcp": date(2026, 11, 16)}
    est = estimate(fleet_db)
    aws, gcp = P4D * 10 / 60, A2 * 10 / 60  # 10 minutes × 8 GPUs at the per-GPU price
    assert dict(est.by_day) == pytest.approx(
        {"2026-11-17": gcp, "2026-11-18": aws + gcp, "2026-11-19": aws + gcp}
    )
    assert (est.start, est.end, est.nodes) == (date(2026, 11, 17), date(2026, 11, 19), 2)
    assert est.since == (("aws", "2026-11-18"), ("gcp", "2026-11-17"))
    assert est.total == pytest.approx(2 * aws + 3 * gcp)
    assert dict(est.by_project) == pytest.approx({"bert-training": 2 * aws, "vision": 3 * gcp})
    assert est.price_basis == "bundled 2026-11-01 (2 nodes)"
    assert est.to_dict() == {
        "start": "2026-11-17",
        "end": "2026-11-19",
        "total": round(2 * aws + 3 * gcp, 6),
        "nodes": 2,
        "price_basis": "bundled 2026-11-01 (2 nodes)",
        "currency": "USD",
    }


def test_no_billing_at_all_estimates_every_day_of_the_period(fleet_db):
    est = estimate(fleet_db, start=date(2026, 11, 17))
    assert [d for d, _ in est.by_day] == ["2026-11-17", "2026-11-18", "2026-11-19"]
    assert est.start == date(2026, 11, 17)


def test_a_billing_load_replaces_its_days_never_adds(fleet_db, rules, tmp_path):
    bill(fleet_db, rules, tmp_path, "gcp", "Google Cloud", 30, service="Compute Engine")
    bill(fleet_db, rules, tmp_path, "aws1", "AWS", 17)
    before = estimate(fleet_db)
    assert [d for d, _ in before.by_day] == ["2026-11-18", "2026-11-19"]
    assert live_line(before) == "live GPU estimate Nov 18–19: $11 from 1 node"
    bill(fleet_db, rules, tmp_path, "aws2", "AWS", 18)  # Nov 18 lands
    after = estimate(fleet_db)
    assert [d for d, _ in after.by_day] == ["2026-11-19"]
    assert (after.start, after.total) == (date(2026, 11, 19), pytest.approx(before.total / 2))
    assert live_line(after) == "live GPU estimate Nov 19: $5 from 1 node"
    bill(fleet_db, rules, tmp_path, "aws3", "AWS", 19)
    assert estimate(fleet_db) is None  # billing covers it all


def test_keep_filters_by_project_and_by_team(fleet_db, rules, tmp_path):
    bill(fleet_db, rules, tmp_path, "aws", "AWS", 17, project="vision", team="cv")
    vision = estimate(fleet_db, keep=lambda v: v["project"] == "vision")
    assert vision.nodes == 1 and dict(vision.by_project).keys() == {"vision"}
    by_team = estimate(fleet_db, keep=lambda v: v["team"] == "cv")
    assert by_team.total == pytest.approx(vision.total)
    seen = []
    estimate(fleet_db, keep=lambda v: seen.append(dict(v)) or True)
    assert {"project", "owner", "provider", "team", "node"} == set(seen[0])
    assert estimate(fleet_db, keep=lambda v: v["provider"] == "azure") is None


def test_minutes_with_no_heartbeat_and_after_now_are_not_counted(db):
    minutes(db, 0, 20, [50.0] * 8, node="i-gone")  # 06:00–06:19, then silent
    minutes(db, 0, 50, [50.0] * 8, node="i-on")  # 06:00–06:49
    now = T0 + timedelta(minutes=40)
    est = live_estimate(db, PriceBook(), now.date(), now.date(), now)
    assert est.total == pytest.approx(P4D * (20 + 41) / 60)  # 06:00..06:40 counted for i-on


def test_labels_that_change_within_a_day_split_by_project(db):
    minutes(db, 0, 10, [50.0] * 8, project="a")
    minutes(db, 10, 15, [50.0] * 8, project="b")
    minutes(db, 15, 20, [50.0] * 8, project="a")
    est = live_estimate(db, PriceBook(), T0.date(), T0.date(), T0 + timedelta(minutes=30))
    assert dict(est.by_project) == pytest.approx({"a": P4D * 15 / 60, "b": P4D * 5 / 60})


def test_unlabelled_nodes_take_the_billing_tags(db, rules, tmp_path):
    minutes(db, 0, 10, [50.0] * 8, node="i-0tagged", project=None, owner=None)
    rows = [charge("2026-11-01", 1.0, resource="i-0tagged", project="from-billing")]
    import_file(db, write_focus(tmp_path / "b.csv", rows), rules=rules, now=NOW)
    est = live_estimate(db, PriceBook(), T0.date(), T0.date(), T0 + timedelta(minutes=10))
    assert [p for p, _ in est.by_project] == ["from-billing"]


def test_prices_basis_and_unpriced_nodes(db):
    minutes(db, 0, 10, [50.0] * 8)
    minutes(db, 0, 10, [50.0], node="i-odd", itype="x9.mega")
    book = PriceBook({("aws", "p4d.24xlarge"): InstancePrice(8, 40.0, None)})
    est = live_estimate(db, book, T0.date(), T0.date(), T0 + timedelta(minutes=10))
    assert (est.price_basis, est.unpriced, est.nodes) == ("config (1 node)", ("i-odd",), 1)
    assert est.total == pytest.approx(40.0 * 10 / 60)


def test_no_heartbeats_is_none(db):
    assert live_estimate(db, PriceBook(), T0.date(), T0.date(), T0) is None
    assert burn_now(db, T0, PriceBook()) is None


def test_live_line_spans_months():
    est = LiveEstimate(date(2026, 11, 30), date(2026, 12, 1), 1210.4, 14, "bundled")
    assert live_line(est) == "live GPU estimate Nov 30–Dec 1: $1,210 from 14 nodes"


def test_burn_now_prices_every_reporting_node_and_names_the_silent(db):
    minutes(db, 0, 40, [90.0] * 8)  # busy
    minutes(db, 0, 40, [0.0] * 8, node="i-idle", project="vision")  # idle still costs
    minutes(db, 0, 20, [90.0] * 8, node="gpu-7")  # silent since 06:19
    minutes(db, 0, 40, [90.0], node="i-odd", itype="x9.mega")
    burn = burn_now(db, T0 + timedelta(minutes=40), PriceBook(), FleetRules())
    assert burn.total_per_hour == pytest.approx(2 * P4D)
    assert burn.rows == (("bert-training", pytest.approx(P4D), 1), ("vision", P4D, 1))
    assert (burn.silent, burn.unpriced, burn.nodes) == (("gpu-7",), ("i-odd",), 2)
    assert burn.at == "2026-11-22T06:39+00:00"
    assert burn.price_basis == "bundled 2026-11-01 (2 nodes)"
    only = burn_now(
        db, T0 + timedelta(minutes=40), PriceBook(), keep=lambda v: v["node"] == "gpu-7"
    )
    assert (only.total_per_hour, only.rows, only.silent) == (0, (), ("gpu-7",))
