"""The budget ladder job with a controlled clock and a fake Slack: a crossing is posted once
to the budget's channel and DMed to its owner (a restart posts nothing new), a higher one
later posts only itself, a channel whose grant does not admit the budget gets nothing, a
restatement that un-crosses is never posted and the daily digest notes it once, a failed
send is retried at most once, and a muted owner gets no DM."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from finops_bot.access import AccessPolicy, parse_access
from finops_bot.digest.rules import parse_digest_rules
from finops_bot.forecast.budget_rules import parse_budgets
from finops_bot.ingest.importer import import_file
from finops_bot.ingest.tags import TagRules
from finops_bot.store import budget_ledger, connect, ledger
from scheduled import budgets as job
from scheduled import digests
from tests.conftest import charge, write_focus

TAGS = TagRules({"project": ("project",), "team": ("team",), "owner": ("owner",)})
MEASURE = "EffectiveCost"
ROUTING = parse_digest_rules([], {"p1": {"owner": "a@x.io"}}, None)
USERS = {"a@x.io": "U1"}.get
RULES = parse_budgets(
    [
        {
            "name": "p1",
            "project": "p1",
            "amount": 3000,
            "channel": "C0P1",
            "forecast_threshold": 0,  # the actual-spend ladder only
        }
    ]
)
# $100 a day from Aug 1: billed through Nov 16 → $1,600 of $3,000 (53%) on Nov 17
NOV17 = datetime(2026, 11, 17, 6, 0, tzinfo=UTC)


class Slack:
    """A fake ``send(target, text, blocks) → ts`` that records each call; ``fail``: the
    targets it raises for (Slack down)."""

    def __init__(self, fail=()):
        self.calls: list[tuple[str, str, list]] = []
        self.fail = set(fail)

    def __call__(self, target, text, blocks):
        self.calls.append((target, text, blocks))
        if target in self.fail:
            raise ConnectionError("slack is down")
        return f"17000000{len(self.calls):02d}.0001"

    @property
    def targets(self) -> list[str]:
        return [t for t, _, _ in self.calls]


def _days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def load(path: Path, folder: Path, last: date, override=None) -> None:
    """p1 (team t1) at $100 a day from Aug 1 to ``last``; ``override``: day → cost (a
    restatement re-imports the same days with other costs)."""
    override = override or {}
    rows = [charge(d, override.get(d, 100.0), project="p1", team="t1")
            for d in _days(date(2026, 8, 1), last)]  # fmt: skip
    db = connect(path)
    try:
        import_file(db, write_focus(folder / "bill.csv", rows), rules=TAGS, now=NOV17)
    finally:
        db.close()


@pytest.fixture
def cache(tmp_path) -> Path:
    path = tmp_path / "cache.db"
    load(path, tmp_path, date(2026, 11, 16))
    return path


def check(cache, now, send, rules=RULES, access=None) -> list[str]:
    return job.check(cache, rules, ROUTING, now, send, USERS, measure=MEASURE, access=access)


def test_a_crossing_posts_once_to_the_channel_and_the_owner(cache):
    send = Slack()
    posted = check(cache, NOV17, send)
    assert sorted(posted) == ["budget:p1:50 → C0P1", "budget:p1:50 → U1"]
    assert sorted(send.targets) == ["C0P1", "U1"]
    for _, text, blocks in send.calls:
        assert "Budget p1" in text and "crossed 50%" in text
        assert "$1,600.00 of $3,000.00 (53%)" in text and "Billed through 2026-11-16" in text
        assert blocks and blocks[0]["type"] == "section"
    assert check(cache, NOV17 + timedelta(minutes=15), send) == []  # the next run
    # a restart: check opens its own connection from the path, the ledger remembers
    assert check(cache, NOV17 + timedelta(hours=2), send) == []
    assert len(send.calls) == 2


def test_a_higher_crossing_later_posts_only_itself(cache, tmp_path):
    send = Slack()
    check(cache, NOV17, send)
    load(cache, tmp_path, date(2026, 11, 24))  # $2,400: 80%
    later = NOV17 + timedelta(days=8)
    assert sorted(check(cache, later, send)) == ["budget:p1:80 → C0P1", "budget:p1:80 → U1"]
    assert len(send.calls) == 4 and all("crossed 80%" in t for _, t, _ in send.calls[2:])
    assert check(cache, later + timedelta(minutes=15), send) == []


def test_a_channel_whose_grant_does_not_admit_the_budget_gets_nothing(cache, caplog):
    other = parse_access({"mode": "scoped", "grants": [{"channel": "C0P1", "teams": ["t2"]}]})
    send = Slack()
    assert check(cache, NOV17, send, access=other) == ["budget:p1:50 → U1"]  # the DM only
    assert send.targets == ["U1"]
    assert "may not see project p1" in caplog.text


def test_a_channel_granted_the_budget_s_team_gets_the_post(cache):
    team = parse_access({"mode": "scoped", "grants": [{"channel": "C0P1", "teams": ["t1"]}]})
    send = Slack()
    assert "budget:p1:50 → C0P1" in check(cache, NOV17, send, access=team)


def test_a_muted_owner_gets_no_dm(cache):
    db = connect(cache)
    ledger.mute(db, "U1", NOV17 + timedelta(days=7), NOV17)
    db.close()
    send = Slack()
    assert check(cache, NOV17, send) == ["budget:p1:50 → C0P1"]
    assert send.targets == ["C0P1"]


def test_a_failed_send_is_recorded_and_retried_at_most_once(cache):
    down = Slack(fail={"C0P1"})
    assert check(cache, NOV17, down) == ["budget:p1:50 → U1"]
    db = connect(cache)
    ((name, target, day, error),) = ledger.problems(db, "2026-11-01")
    assert (name, target, day) == ("budget:p1:50", "C0P1", "2026-11-01")
    assert "ConnectionError" in error and "slack is down" in error
    db.close()
    assert check(cache, NOV17 + timedelta(minutes=5), down) == []  # too soon to retry
    assert check(cache, NOV17 + timedelta(minutes=11), down) == []  # the one retry fails
    assert check(cache, NOV17 + timedelta(hours=1), down) == []  # and no third try
    assert down.targets.count("C0P1") == 2 and down.targets.count("U1") == 1


def test_a_failed_send_that_is_retried_posts_once(cache):
    down = Slack(fail={"C0P1"})
    check(cache, NOV17, down)
    down.fail.clear()
    assert check(cache, NOV17 + timedelta(minutes=11), down) == ["budget:p1:50 → C0P1"]
    assert check(cache, NOV17 + timedelta(hours=1), down) == []
    assert down.targets.count("C0P1") == 2 and down.targets.count("U1") == 1


def test_a_forecast_over_the_budget_is_posted_as_its_own_crossing(cache):
    rules = parse_budgets([{"name": "p1", "project": "p1", "amount": 2500, "channel": "C0P1"}])
    send = Slack()
    posted = check(cache, NOV17, send, rules=rules)  # $1,600 of $2,500; ~$3,000 forecast
    assert sorted(posted) == sorted(
        f"budget:p1:{t} → {target}" for t in ("50", "forecast") for target in ("C0P1", "U1")
    )
    (forecast,) = {t for _, t, _ in send.calls if "is forecast over 100% of its budget" in t}
    assert "forecast $" in forecast and "(80%: $" in forecast
    assert check(cache, NOV17 + timedelta(minutes=15), send, rules=rules) == []


def test_a_crossing_never_posted_is_posted_when_crossed_again(cache, tmp_path):
    check(cache, NOV17, Slack(fail={"C0P1", "U1"}))  # recorded; both posts fail
    load(cache, tmp_path, date(2026, 11, 16), override={"2026-11-15": 0.0, "2026-11-16": 0.0})
    assert check(cache, NOV17 + timedelta(minutes=11), Slack()) == []  # un-crossed
    load(cache, tmp_path, date(2026, 11, 18), override={"2026-11-15": 0.0, "2026-11-16": 0.0})
    send = Slack()  # $1,600 again: over 50% once more, and nobody was ever told
    assert check(cache, NOV17 + timedelta(days=2), send) != []


DIGEST = parse_digest_rules(
    [{"name": "daily", "channel": "C0P1", "at": "09:00"}], None, None
).digests[0]
OPEN = AccessPolicy()


def post_digest(cache, day: str, send) -> str | None:
    at = datetime.fromisoformat(f"{day}T09:00:00+00:00")
    return digests.post(cache, DIGEST, day, at, send, access=OPEN, measure=MEASURE,
                        budgets=digests.Budgeting(RULES))  # fmt: skip


def test_a_restatement_that_uncrosses_is_not_posted_and_the_digest_notes_it_once(cache, tmp_path):
    down = Slack(fail={"C0P1", "U1"})  # the crossing is recorded, its posts fail
    assert check(cache, NOV17, down) == []
    restated = {"2026-11-15": 0.0, "2026-11-16": 0.0}  # the provider restates two days
    load(cache, tmp_path, date(2026, 11, 16), override=restated)
    up = Slack()
    assert check(cache, NOV17 + timedelta(minutes=11), up) == []  # un-crossed: no retry
    assert up.calls == []
    db = connect(cache)
    (c,) = budget_ledger.unnoted(db)
    assert (c.budget, c.threshold, c.uncrossed_spent) == ("p1", "50", pytest.approx(1400))
    db.close()
    send = Slack()
    assert post_digest(cache, "2026-11-17", send)
    ((channel, text, _),) = send.calls
    assert channel == "C0P1" and "Budgets" in text
    assert "p1 (project p1, November 2026): $1,400.00 of $3,000.00 (47%)" in text
    assert text.count("back below 50% after a restatement") == 1
    assert "($1,400.00 of $3,000.00)" in text
    db = connect(cache)
    assert budget_ledger.unnoted(db) == []  # noted once the digest is posted
    db.close()
    assert post_digest(cache, "2026-11-18", send)
    assert "back below" not in send.calls[1][1]  # the next digest does not repeat it


def test_a_digest_that_fails_to_post_notes_the_uncrossing_next_time(cache, tmp_path):
    check(cache, NOV17, Slack())
    load(cache, tmp_path, date(2026, 11, 16), override={"2026-11-15": 0.0, "2026-11-16": 0.0})
    assert check(cache, NOV17 + timedelta(hours=1), Slack()) == []
    assert post_digest(cache, "2026-11-17", Slack(fail={"C0P1"})) is None
    send = Slack()
    assert post_digest(cache, "2026-11-18", send)
    assert "back below 50% after a restatement" in send.calls[0][1]


def test_no_budgets_posts_nothing(cache):
    send = Slack()
    assert check(cache, NOV17, send, rules=parse_budgets(None)) == []
    assert send.calls == []
