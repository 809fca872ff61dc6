"""The daily digest composed on the demo cache: each provider's latest complete day to the
cent against an independent SQL sum, the same weekday a week before and the 4-week average;
new anomalies; a scoped digest names nothing outside its scope; Block Kit within limits;
and `digest daily --json` for a configured digest, met with its channel's grant."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from slack_sdk.models.blocks import Block

from finops_bot.access import Grant, Scope
from finops_bot.anomalies.rules import AnomalyRules
from finops_bot.anomalies.run import find, save
from finops_bot.days import day_number
from finops_bot.demo import load_demo
from finops_bot.digest.daily import compose_daily
from finops_bot.ingest.tags import TagRules
from finops_bot.questions import Engine
from finops_bot.render.digest import digest_blocks, digest_text
from finops_bot.store import connect
from tests.bot.test_cli import AS_OF, run
from tests.conftest import NOW, TODAY

LATER = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = connect(tmp_path_factory.mktemp("digest") / "demo.db")
    load_demo(db, TODAY, NOW, TagRules({"project": ("project",), "team": ("team",),
                                         "owner": ("owner",)}))  # fmt: skip
    save(db, find(db, AnomalyRules(), date(2026, 11, 21)), AnomalyRules().dimensions, NOW,
         "EffectiveCost")  # fmt: skip
    yield db
    db.close()


def sql_day(db, provider: str, day: date) -> float:
    return db.execute(
        "SELECT SUM(c.effective_cost) FROM charges c JOIN charge_keys k ON k.id = c.key_id "
        "WHERE k.provider = ? AND c.day = ?",
        (provider, day_number(day)),
    ).fetchone()[0]


def test_each_providers_latest_complete_day_to_the_cent(demo):
    digest = compose_daily(demo, Engine(demo).view(None), "all", date(2026, 11, 4), LATER,
                           "EffectiveCost")  # fmt: skip
    assert {d.provider for d in digest.days} == {"AWS", "Google Cloud", "Microsoft"}
    for d in digest.days:
        day = date.fromisoformat(d.day)
        assert d.day == "2026-11-03"
        assert round(d.total, 2) == round(sql_day(demo, d.provider, day), 2)
        week = sql_day(demo, d.provider, day - timedelta(days=7))
        assert round(d.week_before, 2) == round(week, 2)
    assert [a.key for a in digest.anomalies] == ["llm-finetune"]  # new: found on 11-02
    assert digest.events and digest.untagged["USD"] > 0
    text = digest_text(digest)
    assert "latest complete billing day" in text and "llm-finetune: spike since 2026-11-02" in text
    for block in digest_blocks(digest):
        Block.parse(block).validate_json()


def test_a_scoped_digest_names_nothing_outside(demo):
    engine = Engine(demo)
    nlp = Scope((Grant.of({"team": ["nlp"]}),))
    digest = compose_daily(demo, engine.view(nlp), "nlp", date(2026, 11, 4), LATER,
                           "EffectiveCost")  # fmt: skip
    shown = digest_text(digest) + json.dumps(digest_blocks(digest))
    inside = set(engine.view(nlp).names.values("project"))
    outside = set(engine.names().values("project")) - inside
    assert not [n for n in outside if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", shown)]
    assert digest.untagged is None and digest.events == []  # company-wide: admins only
    assert [a.key for a in digest.anomalies] == ["llm-finetune"]  # an nlp project


def test_digest_daily_json_for_a_configured_digest(tmp_path):
    db = tmp_path / "demo.db"
    run("demo", "--as-of", AS_OF, db=db)
    config = tmp_path / "finops-bot.toml"
    config.write_text(
        '[access]\nmode = "scoped"\n[[access.grants]]\nchannel = "C0NLP"\nteams = ["nlp"]\n'
        '[[digests]]\nname = "nlp-daily"\nchannel = "C0NLP"\nprojects = ["bert-training", '
        '"vision-research"]\n'
    )
    out = run("digest", "daily", "--as-of", AS_OF, "--json", "--config", str(config), db=db)
    (post,) = json.loads(out.stdout)
    assert post["channel"] == "C0NLP"
    (chart,) = post["files"]
    assert (
        chart["filename"] == f"digest-nlp-daily-{AS_OF}.png" and "by project" in chart["alt_text"]
    )
    assert "vision-research" not in post["text"]  # the channel's grant: team nlp only
    assert "bert-training" in post["text"]
    bad = run("digest", "daily", "--channel", "C0NOPE", "--config", str(config), db=db,
              check=False)  # fmt: skip
    assert bad.returncode == 2 and "no daily [[digests]] posts there" in bad.stderr


def test_the_weekly_digest_is_the_latest_complete_week_to_the_cent(demo):
    from finops_bot.digest.daily import compose_weekly

    digest = compose_weekly(demo, Engine(demo).view(None), "weekly", date(2026, 11, 4), LATER,
                            "EffectiveCost")  # fmt: skip
    for d in digest.days:
        assert d.day == "2026-10-28 … 2026-11-03"
        week = sum(sql_day(demo, d.provider, date(2026, 10, 28) + timedelta(days=i))
                   for i in range(7))  # fmt: skip
        before = sum(sql_day(demo, d.provider, date(2026, 10, 21) + timedelta(days=i))
                     for i in range(7))  # fmt: skip
        assert round(d.total, 2) == round(week, 2)
        assert round(d.week_before, 2) == round(before, 2)
    assert "Weekly cost digest" in digest_text(digest)
    assert [a.key for a in digest.anomalies] == ["llm-finetune"]  # detected in the week


def test_a_long_section_ends_with_and_n_more_and_the_command():
    from finops_bot.render.sections import section_block

    block = section_block("Top", [f"project p-{i:03d}: " + "x" * 80 for i in range(100)],
                          "python -m bot digest daily")  # fmt: skip
    text = block["text"]["text"]
    assert len(text) <= 3000 and text.endswith("more: python -m bot digest daily")
    shown = text.count("• ")
    assert f"… and {100 - shown} more" in text
    Block.parse(block).validate_json()
