"""`proposals`, `audit` and `sweep` through `bot.cli.main`, on a cache the demo built (its
remediation section leaves proposals in several states and an audit trail): the JSON
contracts key for key, the audit's filters, the sweep with and without a [remediation]
table, and a bad --since as one line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from tests.demo_cache import build_demo

AS_OF = "2026-11-22"
PROPOSAL_KEYS = {
    "id",
    "resource",
    "action",
    "state",
    "owner",
    "expires_at",
    "saving_per_hour",
    "currency",
}
RESOURCE_KEYS = {"cloud", "account", "region", "id", "type", "spot"}
EVENT_KEYS = {
    "at",
    "proposal_id",
    "actor_user_id",
    "actor_email",
    "event",
    "action",
    "mode",
    "before",
    "after",
    "cloud_request_id",
    "error",
}
STALLED = "i-0c4b2d3e5f6a70002"  # bob's: stopped and started again by the demo


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    path, out = build_demo(tmp_path_factory.mktemp("remediation-cli"), AS_OF)
    assert "# Remediation" in out
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no ./finops-bot.toml is picked up
    for name in ("FINOPS_BOT_DB", "FINOPS_BOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def copy_db(demo_db, tmp_path) -> Path:
    """A copy of the demo's cache for a test that changes it."""
    path = tmp_path / "copy.db"
    source, target = sqlite3.connect(demo_db), sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return path


def cli(capsys, *args: str, db: Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*args, "--db", str(db)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_json(capsys, *args: str, db: Path) -> dict:
    code, out, err = cli(capsys, *args, "--json", db=db)
    assert code == 0 and err == "", err
    return json.loads(out)


def test_proposals_json_is_the_stable_contract(capsys, demo_db):
    payload = as_json(capsys, "proposals", db=demo_db)
    assert set(payload) == {"proposals"}
    every = payload["proposals"]
    assert len(every) == 6  # 4 to stop, 2 to Spot
    spot = {p["resource"]["id"]: p["state"] for p in every if p["action"] == "spot"}
    assert spot == {"recsys-g2-0": "planned", "i-0b3a1c2d4e5f60001": "proposed"}
    found = [p for p in every if p["action"] == "stop"]
    assert len(found) == 4
    for p in found:
        assert set(p) == PROPOSAL_KEYS
        assert set(p["resource"]) == RESOURCE_KEYS
        assert p["id"].startswith("rp_") and p["action"] == "stop" and p["currency"] == "USD"
        assert p["resource"]["cloud"] in ("aws", "gcp") and p["resource"]["spot"] is False
        assert isinstance(p["saving_per_hour"], float) and p["saving_per_hour"] > 0
        assert p["expires_at"].startswith("2026-11-23T")
    states = {p["resource"]["id"]: p["state"] for p in found}
    assert states == {
        "i-0b3a1c2d4e5f60002": "planned",  # alice's dry run
        STALLED: "restarted",  # bob's: stopped, then started again
        "vision-a2-0": "proposed",
        "i-0d5c3e4f6a7b80000": "proposed",
    }
    owners = {p["resource"]["id"]: p["owner"] for p in found}
    assert owners[STALLED] == "bob@acme.ai"
    opened = as_json(capsys, "proposals", "--open", db=demo_db)["proposals"]
    assert {p["state"] for p in opened} == {"planned", "proposed"} and len(opened) == 5


def test_proposals_as_text(capsys, demo_db):
    code, out, _ = cli(capsys, "proposals", db=demo_db)
    assert code == 0
    assert out.count("[proposed]") == 3 and "[started again]" in out and STALLED in out
    assert "Spot saves" in out and "It cannot switch in place; the plan:" in out


def test_audit_json_is_the_stable_contract(capsys, demo_db):
    payload = as_json(capsys, "audit", db=demo_db)
    assert set(payload) == {"events"}
    events = payload["events"]
    assert events
    for e in events:
        assert set(e) == EVENT_KEYS
        assert e["at"].startswith("2026-11-22T")
        assert e["mode"] in ("dry-run", "real")
    kinds = {e["event"] for e in events}
    assert {"proposed", "clicked", "refused", "approved", "planned", "executing"} <= kinds
    assert "succeeded" in kinds
    stop = next(e for e in events if e["event"] == "executing" and e["action"] == "stop")
    assert stop["actor_user_id"] == "U0OPS" and stop["mode"] == "real"
    assert isinstance(stop["before"], dict) and stop["before"]["state"] == "running"
    done = next(e for e in events if e["event"] == "succeeded" and e["action"] == "stop")
    assert done["cloud_request_id"].startswith("demo-")
    refused = next(e for e in events if e["event"] == "refused")
    assert refused["actor_user_id"] == "U0EVE" and refused["actor_email"] == "eve@acme.ai"
    assert "owner" in refused["error"]


def test_audit_resource_filter(capsys, demo_db):
    every = as_json(capsys, "audit", db=demo_db)["events"]
    ids = {p["id"] for p in as_json(capsys, "proposals", db=demo_db)["proposals"]
           if p["resource"]["id"] == STALLED}  # fmt: skip
    mine = as_json(capsys, "audit", "--resource", STALLED, db=demo_db)["events"]
    assert mine and {e["proposal_id"] for e in mine} == ids
    assert mine == [e for e in every if e["proposal_id"] in ids]
    assert [e["event"] for e in mine][-2:] == ["executing", "succeeded"]  # the start
    (pid,) = ids
    assert as_json(capsys, "audit", "--resource", pid, db=demo_db)["events"] == mine
    assert as_json(capsys, "audit", "--resource", "i-nothing", db=demo_db) == {"events": []}
    code, out, _ = cli(capsys, "audit", "--resource", "i-nothing", db=demo_db)
    assert code == 0 and out == "No remediation events for i-nothing.\n"
    code, out, _ = cli(capsys, "audit", "--resource", STALLED, db=demo_db)
    assert code == 0 and len(out.splitlines()) == len(mine)


def test_audit_since_filter(capsys, demo_db):
    every = as_json(capsys, "audit", db=demo_db)["events"]
    assert as_json(capsys, "audit", "--since", AS_OF, db=demo_db)["events"] == every
    assert as_json(capsys, "audit", "--since", "2026-11-01", db=demo_db)["events"] == every
    assert as_json(capsys, "audit", "--since", "2026-11-23", db=demo_db) == {"events": []}
    both = as_json(capsys, "audit", "--since", "2026-11-23", "--resource", STALLED, db=demo_db)
    assert both == {"events": []}
    code, out, _ = cli(capsys, "audit", "--since", "2026-11-23", db=demo_db)
    assert code == 0 and out == "No remediation events.\n"


@pytest.mark.parametrize("since", ["2026/11/01", "yesterday", "2026-13-01", "0099-01-01"])
def test_a_bad_since_is_one_line(capsys, demo_db, since):
    code, out, err = cli(capsys, "audit", "--since", since, db=demo_db)
    assert code == 2 and out == ""
    assert err.startswith(f"error: --since {since!r}: give a date")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_sweep_without_a_remediation_table_is_not_configured(capsys, copy_db):
    before = as_json(capsys, "proposals", db=copy_db)
    code, out, err = cli(capsys, "sweep", db=copy_db)
    assert code == 0 and err == ""
    assert out.startswith("Remediation is not configured: add [remediation] to the config file")
    assert "Nothing was proposed." in out
    assert as_json(capsys, "proposals", db=copy_db) == before


def test_sweep_switched_off(capsys, copy_db, tmp_path):
    config = tmp_path / "off.toml"
    config.write_text("[remediation]\nenabled = false\n")
    code, out, _ = cli(capsys, "sweep", "--config", str(config), db=copy_db)
    assert code == 0 and out.startswith("Remediation is switched off (enabled = false)")


def test_sweep_with_a_config_proposes(capsys, copy_db, tmp_path):
    config = tmp_path / "finops-bot.toml"
    config.write_text("[remediation]\npropose_after_minutes = 30\n")
    before = {p["id"] for p in as_json(capsys, "proposals", db=copy_db)["proposals"]}
    code, out, err = cli(capsys, "sweep", "--config", str(config), db=copy_db)
    assert code == 0 and err == ""
    # the demo left three open; bob's was started again, so his stalled node is proposed anew
    assert out.splitlines()[0] == (
        "4 node(s) wasted for 30+ minutes (those proposed or snoozed before are not proposed "
        "again); 1 new proposal(s) to stop."
    )
    assert out.splitlines()[1] == (
        "5 busy on-demand node(s) checked for Spot; 0 new Spot proposal(s) (an approver decides)."
    )
    assert f"[proposed] {STALLED}" in out
    after = as_json(capsys, "proposals", db=copy_db)["proposals"]
    new = [p for p in after if p["id"] not in before]
    assert [(p["resource"]["id"], p["state"]) for p in new] == [(STALLED, "proposed")]
    events = as_json(capsys, "audit", "--resource", new[0]["id"], db=copy_db)["events"]
    assert [(e["event"], e["actor_user_id"]) for e in events] == [("proposed", "sweep")]
    code, out, _ = cli(capsys, "sweep", "--config", str(config), db=copy_db)
    assert out.splitlines()[0] == (
        "4 node(s) wasted for 30+ minutes (those proposed or snoozed before are not proposed "
        "again); 0 new proposal(s) to stop."
    )


def test_a_bad_remediation_table_is_one_line(capsys, copy_db, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[remediation]\npropose_after_minutes = 1\n")
    code, out, err = cli(capsys, "sweep", "--config", str(config), db=copy_db)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and "propose_after_minutes" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "table",
    ["[remediation]\n", "[remediation]\npropose_after_minutes = 30\ndry_run = false\n"],
    ids=["defaults", "live-no-approvers"],
)
def test_the_demo_tells_its_own_story_whatever_remediation_config(capsys, tmp_path, table):
    """The demo's flow uses its own rules: a configured [remediation] neither breaks it nor
    makes its narration false."""
    (tmp_path / "finops-bot.toml").write_text(table)
    code, out, _ = cli(capsys, "demo", "--as-of", AS_OF, db=tmp_path / "d.db")
    assert code == 0 and "4 new proposal(s):" in out
    assert "clicks [Stop] (dry_run = true, the default):\n    Dry run: nothing" in out
    # Spot: the owner alone may not; the approver's dry run shows the in-place plan
    assert "recsys-g2-0 (g2-standard-48, owner dan@acme.ai): saves $" in out
    assert "This needs an approver (a switch to Spot" in out
    assert "then set its scheduling to Spot (termination action STOP" in out
    assert "[Copy plan] on i-0b3a1c2d4e5f60001:" in out and "create-image" in out


def test_an_unencodable_resource_is_one_line(capsys, demo_db):
    code, out, err = cli(capsys, "audit", "--resource", "\udcff\udcfe", db=demo_db)
    assert code == 2 and "--resource" in err and "Traceback" not in err
