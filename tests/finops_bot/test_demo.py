"""The offline demo organisation."""

from __future__ import annotations

from datetime import date, timedelta

from finops_bot.demo import SHIFT_DAYS_AGO, SPIKE_DAYS_AGO, demo_table, load_demo
from finops_bot.questions import Engine
from tests.conftest import NOW, TODAY


def test_demo_is_deterministic_and_complete():
    a, b = demo_table(TODAY), demo_table(TODAY)
    assert a.equals(b)
    cols = a.to_pydict()
    assert set(cols["ProviderName"]) == {"AWS", "Google Cloud", "Microsoft"}
    assert set(cols["PricingCategory"]) >= {"Standard", "Dynamic", "Committed"}
    assert {"Credit", "Purchase", "Usage"} <= set(cols["ChargeCategory"])
    skus = " ".join(s for s in cols["SkuId"] if s)  # tax rows have no SKU, as in FOCUS
    for family in ("p4d", "p5", "a2-", "a3-", "ND96", "g5"):
        assert family in skus
    starts = sorted(set(cols["ChargePeriodStart"]))
    assert len(starts) >= 120


def test_demo_twice_does_not_double_and_has_the_story(db, rules):
    load_demo(db, TODAY, NOW, rules)
    once = db.execute("SELECT COUNT(*), SUM(effective_cost) FROM charges").fetchone()
    load_demo(db, TODAY, NOW, rules)
    assert db.execute("SELECT COUNT(*), SUM(effective_cost) FROM charges").fetchone() == once
    names = {k for d, k, _ in db.execute("SELECT * FROM names") if d == "project"}
    assert len(names - {""}) >= 8 and "bert-training" in names and "" in names  # untagged too
    engine = Engine(db)
    spike_day = TODAY - timedelta(days=SPIKE_DAYS_AGO)
    spike = engine.ask(f"llm-finetune on {spike_day}", TODAY, NOW).total
    normal = engine.ask(f"llm-finetune on {spike_day - timedelta(days=7)}", TODAY, NOW).total
    assert spike > 3 * normal
    shift = TODAY - timedelta(days=SHIFT_DAYS_AGO)
    before = engine.ask(
        f"vision-research between {shift - timedelta(days=14)} and {shift - timedelta(days=1)}",
        TODAY,
        NOW,
    ).total
    after = engine.ask(
        f"vision-research between {shift} and {shift + timedelta(days=13)}", TODAY, NOW
    ).total
    assert after > 1.5 * before
    assert engine.ask("untagged spend last 30 days", TODAY, NOW).total > 0
    assert date.fromisoformat(
        engine.ask("total spend", TODAY, NOW).data_through
    ) == TODAY - timedelta(days=1)
