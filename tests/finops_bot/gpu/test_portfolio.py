"""Portfolio advice: the nightly trough (hourly P10, not daily averages), heartbeats as the
hourly source when billing is daily, resumable work onto Spot, what is already committed,
the families, and the savings arithmetic (a commitment is paid every hour, used or not)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from finops_bot.days import day_number
from finops_bot.gpu.commitment_prices import DISCOUNTS, TABLE_AS_OF, commitment, spot
from finops_bot.gpu.heartbeat import store_batches, validate_batch
from finops_bot.gpu.portfolio import (
    MONTH_HOURS,
    FamilyUsage,
    Window,
    advise,
    commit_gain,
    family_of,
    gather,
)
from finops_bot.gpu.prices import PriceBook
from tests.finops_bot.store.test_instance_hours import (
    P4D,
    START,
    gpu_row,
    import_rows,
    trough_rows,
)

WINDOW = Window(day_number(START), day_number(START) + 59)


def heartbeats(db, start: datetime, days: int, nodes: dict[str, tuple[int, int, bool]]) -> None:
    """Minute heartbeats of p4d nodes: name → (first hour, hour after the last, whether
    its job writes checkpoints), every day (one GPU reported per node, to stay quick)."""
    items = []
    for name, (lo, hi, checkpoints) in nodes.items():
        for d in range(days):
            for minute in range(lo * 60, hi * 60):
                end = start + timedelta(days=d, minutes=minute + 1)
                payload = {
                    "schema": "finops.heartbeat/v1",
                    "batch_id": f"{name}-{d:03d}-{minute:04d}",
                    "node": {
                        "hostname": name,
                        "provider": "aws",
                        "instance_id": name,
                        "instance_type": "p4d.24xlarge",
                        "region": "us-east-1",
                        "spot": False,
                    },
                    "labels": {"project": "bert-training", "checkpoints": checkpoints},
                    "window": {
                        "start": (end - timedelta(minutes=1)).isoformat(),
                        "end": end.isoformat(),
                        "samples": 6,
                    },
                    "gpus": [
                        {"index": 0, "uuid": f"{name}-g0", "state": "ok",
                         "util": {"min": 90, "mean": 90, "max": 90}}
                    ],
                }  # fmt: skip
                items.append((1, validate_batch(payload)))
    store_batches(db, items, start + timedelta(days=days, hours=1))


def test_families():
    assert family_of("AWS", "p4d.24xlarge") == "p4d"
    assert family_of("aws", "g5.12xlarge") == "g5"
    assert family_of("Google Cloud", "a2-highgpu-8g") == "a2"
    assert family_of("gcp", "a3-megagpu-8g") == "a3"
    assert family_of("Microsoft", "Standard_ND96asr_v4") == "ND v4"
    assert family_of("azure", "Standard_NC24ads_A100_v4") == "NC A100 v4"
    assert family_of("azure", "standard_nc4as_t4_v3") == "NC T4 v3"


def test_the_nightly_trough_commits_to_the_hourly_p10(db, tmp_path, rules):
    """8 instances by day (14 hours), 2 by night, 60 days of hourly billing: the hourly P10
    is 2 while the daily averages are all 5.5; the advice commits 2."""
    import_rows(db, tmp_path, trough_rows(60), rules)
    (u,) = gather(db, PriceBook(), WINDOW).values()
    assert (u.provider, u.family, u.hourly_source, u.hourly_days) == (
        "aws",
        "p4d",
        "billing hourly",
        60,
    )
    assert u.rate == pytest.approx(P4D) and u.currency == "USD"
    a = advise(u)
    assert a.baseline == pytest.approx(2.0)
    assert a.daily_p10 == pytest.approx(5.5)
    assert a.commit == 2 and not a.upper_bound
    low, high = commitment("aws", "1y").low, commitment("aws", "1y").high
    assert a.savings["1y"].low == pytest.approx(2 * low * P4D * MONTH_HOURS)
    assert a.savings["1y"].high == pytest.approx(2 * high * P4D * MONTH_HOURS)
    # committing 5 (the daily P10) saves less: it idles 10 hours a day
    assert a.daily_savings["1y"] < a.savings["1y"].low
    assert a.above_hours == pytest.approx((14 * 6 / 24) * MONTH_HOURS)
    assert a.spot_savings is None and u.resumable_share is None  # no heartbeats


def test_daily_billing_alone_gives_an_upper_bound(db, tmp_path, rules):
    import_rows(db, tmp_path, trough_rows(60, hourly=False), rules)
    (u,) = gather(db, PriceBook(), WINDOW).values()
    a = advise(u)
    assert u.hourly is None and a.upper_bound
    assert a.baseline == pytest.approx(5.5) and a.commit == 5


def test_heartbeats_are_the_hourly_source_when_billing_is_daily(db, tmp_path, rules):
    """Daily billing for 60 days; 8 days of heartbeats with the trough (2 nodes always on,
    2 more by day): the P10 comes from the heartbeats; the checkpointing day nodes are the
    resumable share, advised onto Spot above the baseline."""
    import_rows(db, tmp_path, trough_rows(60, 4, 2, hourly=False), rules)
    start = datetime.combine(START + timedelta(days=52), datetime.min.time(), UTC)
    heartbeats(
        db,
        start,
        8,
        {
            "node-a": (0, 24, False),
            "node-b": (0, 24, False),
            "node-c": (6, 20, True),
            "node-d": (6, 20, True),
        },
    )
    (u,) = gather(db, PriceBook(), WINDOW).values()
    assert u.hourly_source == "heartbeats" and u.hourly_days == 8
    a = advise(u)
    assert a.baseline == pytest.approx(2.0) and a.commit == 2
    assert a.daily_p10 == pytest.approx((14 * 4 + 10 * 2) / 24)
    assert set(u.resumable_nodes) == {"node-c", "node-d"}
    assert "checkpoints" in u.resumable_nodes["node-c"]
    assert u.resumable_share == pytest.approx(2 * 14 / (2 * 24 + 2 * 14), rel=1e-3)
    sd = spot("aws")
    above = 2 * 14 / 24 * MONTH_HOURS  # 2 instances above the baseline 14 hours a day
    assert a.above_hours == pytest.approx(above, rel=0.01)
    assert a.spot_savings.low == pytest.approx(above * u.resumable_share * P4D * sd.low, rel=0.01)
    assert a.on_demand_cost == pytest.approx(above * (1 - u.resumable_share) * P4D, rel=0.01)


def test_what_is_committed_already_is_not_advised_again(db, tmp_path, rules):
    rows = trough_rows(40, 6, 3)
    rows += [
        gpu_row((START + timedelta(days=d)).isoformat(), h, 1, pricing="Committed", resource="i-c")
        for d in range(40)
        for h in range(24)
    ]
    import_rows(db, tmp_path, rows, rules)
    (u,) = gather(db, PriceBook(), WINDOW).values()
    a = advise(u)
    assert u.committed == pytest.approx(1.0 * 40 / 60)  # averaged over the 60-day window
    assert a.baseline == pytest.approx(4.0)
    assert a.commit == 4  # floor(4) − floor(0.67)


def test_commit_gain_counts_the_idle_hours():
    counts = np.array([8.0] * 14 + [2.0] * 10)
    assert commit_gain(counts, 0, 2, 0.3) == pytest.approx(0.6)
    # 5 committed: covers 70/24 + 20/24 instance-hours an hour on average, paid 5 × 0.7
    assert commit_gain(counts, 0, 5, 0.3) == pytest.approx((14 * 5 + 10 * 2) / 24 - 3.5)
    assert commit_gain(counts, 2, 0, 0.3) == 0.0
    assert commit_gain(counts, 1, 1, 0.3) == pytest.approx(0.3)


def test_a_price_book_rate_when_billing_has_none():
    u = FamilyUsage("aws", "p4d", {"p4d.24xlarge"}, daily=np.full(30, 3.0))
    from finops_bot.gpu.portfolio import _rate

    _rate(u, PriceBook())
    assert u.rate == pytest.approx(P4D) and "bundled" in u.rate_basis and u.currency == "USD"
    assert advise(u).commit == 3


def test_the_discount_table_is_dated_and_sourced():
    assert {d.as_of for d in DISCOUNTS} == {TABLE_AS_OF}
    for d in DISCOUNTS:
        assert d.source.startswith("https://") and 0 < d.low < d.high < 0.8, d
    for provider in ("aws", "gcp", "azure"):
        one, three = commitment(provider, "1y"), commitment(provider, "3y")
        assert one.high <= three.high and spot(provider) is not None
    assert commitment("aws", "1y").plan == "EC2 Instance Savings Plan"


def test_gcp_gpu_skus_count_machines_not_gpus(db, tmp_path, rules):
    """GCP bills an A2 machine's GPUs as GPU SKUs (GPU-hours): 8 of them are one
    a2-highgpu-8g machine-hour; its vCPU SKU (no GPU-hours) counts nothing."""
    rows = []
    for d in range(30):
        day = (START + timedelta(days=d)).isoformat()
        for h in range(24):
            gpu = gpu_row(day, h, 16, provider="Google Cloud", itype="a2-highgpu-8g")
            gpu["ServiceName"] = "Compute Engine"
            gpu["ChargeDescription"] = "Nvidia Tesla A100 GPU running in Americas"
            cpu = dict(gpu, ChargeDescription="A2 Instance Core running in Americas")
            cpu.update(ConsumedQuantity="192", BilledCost="5", EffectiveCost="5", ListCost="5")
            rows += [gpu, cpu]
    import_rows(db, tmp_path, rows, rules, name="gcp.csv")
    (u,) = gather(db, PriceBook(), Window(WINDOW.first, WINDOW.first + 29)).values()
    assert (u.provider, u.family, u.hourly_source) == ("gcp", "a2", "billing hourly")
    a = advise(u)
    assert a.baseline == pytest.approx(2.0) and a.commit == 2  # 16 GPU-hours an hour
    # a machine-hour costs its GPUs and its vCPUs (the same dimension combination)
    assert u.rate == pytest.approx(8 * P4D + 5 / 2)
