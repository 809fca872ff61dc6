"""Posting digests at their local time with a controlled clock: the ledger decides, so a
spring-forward 02:30 posts once at 03:00, a fall-back day once, two time zones each once,
a missed run or a restart once, two processes once; a claim left without a ts is retried
once after 10 minutes; not_in_channel is recorded, not lost; --force posts again."""

from __future__ import annotations

import multiprocessing
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finops_bot.access import AccessPolicy
from finops_bot.demo import load_demo
from finops_bot.digest.rules import parse_digest_rules
from finops_bot.ingest.tags import TagRules
from finops_bot.store import connect, ledger
from scheduled import digests
from scheduled.digests import NotInChannel
from tests.conftest import NOW, TODAY

OPEN = AccessPolicy()


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("digests") / "demo.db"
    db = connect(path)
    load_demo(db, TODAY, NOW, TagRules({"project": ("project",), "team": ("team",)}))
    db.close()
    return path


@pytest.fixture
def cache(demo_file, tmp_path) -> Path:
    path = tmp_path / "cache.db"
    shutil.copy(demo_file, path)
    return path


def rules(*specs):
    return parse_digest_rules(
        [{"name": n, "channel": "C0NLP", "at": at, "timezone": tz} for n, at, tz in specs],
        None,
        None,
    ).digests


class Recorder:
    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def __call__(self, channel, text, blocks):
        self.sent.append((channel, text))
        return f"17000000{len(self.sent):02d}.0001"


def run_minutes(cache, specs, start: datetime, minutes: int, send) -> list:
    posted = []
    for m in range(minutes):
        now = start + timedelta(minutes=m)
        for name, _ts in digests.post_due(cache, specs, now, send, OPEN, "EffectiveCost"):
            posted.append((name, now))
    return posted


def test_spring_forward_posts_once_at_three(cache):
    specs = rules(("madrid", "02:30", "Europe/Madrid"))
    send = Recorder()
    # 2027-03-28: Madrid jumps from 02:00 to 03:00 (01:00 UTC); 02:30 never happens
    posted = run_minutes(cache, specs, datetime(2027, 3, 27, 23, 0, tzinfo=UTC), 240, send)
    assert len(posted) == 1
    local = posted[0][1].astimezone(specs[0].zone)
    assert (local.hour, local.minute) == (3, 0)


def test_fall_back_posts_once(cache):
    specs = rules(("madrid", "02:30", "Europe/Madrid"))
    send = Recorder()
    # 2026-10-25: Madrid's 02:00-03:00 happens twice (00:00-02:00 UTC)
    posted = run_minutes(cache, specs, datetime(2026, 10, 24, 23, 0, tzinfo=UTC), 300, send)
    assert len(posted) == 1 and len(send.sent) == 1


def test_two_time_zones_a_missed_run_and_a_restart(cache):
    specs = rules(("madrid", "09:00", "Europe/Madrid"), ("ny", "09:00", "America/New_York"))
    send = Recorder()
    morning = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)  # Madrid 08:30, New York 02:30
    assert digests.post_due(cache, specs, morning, send, OPEN, "EffectiveCost") == []
    late = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # the 08:00 run was missed: now 12:00
    assert [n for n, _ in digests.post_due(cache, specs, late, send, OPEN, "EffectiveCost")] == [
        "madrid"
    ]
    again = digests.post_due(cache, specs, late + timedelta(minutes=1), send, OPEN,
                             "EffectiveCost")  # fmt: skip
    assert again == []  # a restart (no memory but the ledger) posts nothing twice
    ny = datetime(2026, 11, 23, 14, 1, tzinfo=UTC)  # New York 09:01
    assert [n for n, _ in digests.post_due(cache, specs, ny, send, OPEN, "EffectiveCost")] == ["ny"]
    assert len(send.sent) == 2 and send.sent[0][0] == "C0NLP"
    assert "Daily cost digest madrid" in send.sent[0][1]


def _post_once(path: str, out: str) -> None:
    def send(channel, text, blocks):
        with open(out, "a") as f:
            f.write("sent\n")
        return "1700000000.0001"

    specs = rules(("madrid", "09:00", "Europe/Madrid"))
    digests.post(Path(path), specs[0], "2026-11-23", datetime(2026, 11, 23, 9, tzinfo=UTC),
                 send, access=OPEN, measure="EffectiveCost")  # fmt: skip


def test_two_processes_post_once(cache, tmp_path):
    out = tmp_path / "sent.txt"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_post_once, args=(str(cache), str(out))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert out.read_text().count("sent") == 1


def test_a_failed_claim_is_retried_once_after_ten_minutes_and_not_in_channel_kept(cache):
    (spec,) = rules(("madrid", "09:00", "Europe/Madrid"))
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def refuse(channel, text, blocks):
        raise NotInChannel("the bot is not in <#C0NLP>: invite it there")

    kw = {"access": OPEN, "measure": "EffectiveCost"}
    assert digests.post(cache, spec, "2026-11-23", at, refuse, **kw) is None
    db = connect(cache)
    ((name, target, day, error),) = ledger.problems(db, "2026-11-01")
    assert (name, target, day) == ("madrid", "C0NLP", "2026-11-23") and "invite it" in error
    send = Recorder()
    assert digests.post(cache, spec, "2026-11-23", at + timedelta(minutes=5), send, **kw) is None
    ts = digests.post(cache, spec, "2026-11-23", at + timedelta(minutes=11), send, **kw)
    assert ts and len(send.sent) == 1  # the one retry
    assert digests.post(cache, spec, "2026-11-23", at + timedelta(hours=1), send, **kw) is None
    forced = digests.post(cache, spec, "2026-11-23", at + timedelta(hours=2), send, force=True,
                          **kw)  # fmt: skip
    assert forced and len(send.sent) == 2
    rows = db.execute(
        "SELECT attempt, forced, ts IS NOT NULL FROM digest_posts ORDER BY attempt"
    ).fetchall()
    assert rows == [(1, 0, 0), (2, 0, 1), (3, 1, 1)]
    db.close()


def test_owners_get_only_their_items_once_a_day_unless_muted(cache):
    from finops_bot.anomalies.rules import AnomalyRules
    from finops_bot.anomalies.run import find, save

    db = connect(cache)
    save(db, find(db, AnomalyRules(), datetime(2026, 11, 2).date()), AnomalyRules().dimensions,
         datetime(2026, 11, 3, tzinfo=UTC), "EffectiveCost")  # fmt: skip
    routing = parse_digest_rules(
        None, {"llm-finetune": {"owner": "bob@acme.ai"}, "vision-research": {"owner": "x@y.z"}},
        None,
    )  # fmt: skip
    owners = digests.Owners(routing, {"bob@acme.ai": "U0BOB"}.get)
    (spec,) = rules(("madrid", "09:00", "Europe/Madrid"))
    send = Recorder()
    kw = {"access": OPEN, "measure": "EffectiveCost", "owners": owners}
    at = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    assert digests.post(cache, spec, "2026-11-03", at, send, **kw)
    (dm,) = [t for c, t in send.sent if c == "U0BOB"]
    assert "llm-finetune" in dm and "vision-research" not in dm
    digests.post(cache, spec, "2026-11-03", at, send, force=True, **kw)
    assert [c for c, _ in send.sent].count("U0BOB") == 1  # at most one a day
    ledger.mute(db, "U0BOB", datetime(2026, 11, 10, tzinfo=UTC), at)
    digests.post(cache, spec, "2026-11-04", datetime(2026, 11, 4, 9, tzinfo=UTC), send, **kw)
    assert [c for c, _ in send.sent].count("U0BOB") == 1  # muted
    db.close()


def test_a_weekly_digest_posts_on_mondays_only(cache):
    specs = parse_digest_rules(
        [{"name": "wk", "kind": "weekly", "channel": "C0NLP", "at": "09:00"}], None, None
    ).digests
    send = Recorder()
    sunday = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert digests.post_due(cache, specs, sunday, send, OPEN, "EffectiveCost") == []
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert [n for n, _ in digests.post_due(cache, specs, monday, send, OPEN, "EffectiveCost")] == [
        "wk"
    ]
    assert "Weekly cost digest wk" in send.sent[0][1]
