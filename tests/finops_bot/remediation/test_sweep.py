"""The idle sweep (remediation.sweep) on a real SQLite cache with the demo fleet's hour of
heartbeats and the demo's in-memory cloud: what it proposes and what it leaves alone, one
open proposal per resource and action (even with two sweeps at once), the snoozed rows and
the keep-until tag it respects, the saving net of what keeps billing, and how a heartbeat
node becomes a cloud target."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from finops_bot.demo_fleet import load_fleet
from finops_bot.errors import FinopsError
from finops_bot.gpu.fleet import NodeState
from finops_bot.gpu.prices import PriceBook
from finops_bot.remediation.demo_cloud import DemoCloud, _DemoReader
from finops_bot.remediation.keeps_billing import HOURS_PER_MONTH, PRICES_AS_OF
from finops_bot.remediation.registry import KEEP_TAG, Observed, Target
from finops_bot.remediation.rules import parse_remediation
from finops_bot.remediation.sweep import sweep, target_of, target_of_proposal
from finops_bot.store import connect
from finops_bot.store import proposals as store
from finops_bot.store.proposals import stamp
from tests.conftest import NOW

IDLE = "i-0b3a1c2d4e5f60002"  # alice, idle for the whole hour
MEMORY = "i-0d5c3e4f6a7b80000"  # heidi, idle with memory held for the hour
STALLED = "i-0c4b2d3e5f6a70002"  # bob, stalled 40 minutes ago
GCP_IDLE = "vision-a2-0"  # carol, idle for the hour
BUSY = "i-0b3a1c2d4e5f60001"
PARTLY = ("i-0c4b2d3e5f6a70001", "asr-nd96-0")
SILENT = "asr-nd96-spot-0"
WASTED = {IDLE, MEMORY, STALLED, GCP_IDLE}
RULES = parse_remediation({"propose_after_minutes": 30})
PRICES = PriceBook()


@pytest.fixture
def fleet_db(db):
    assert load_fleet(db, NOW) == 700
    return db


@pytest.fixture
def cloud() -> DemoCloud:
    return DemoCloud.of_demo_fleet()


def run(db, cloud, rules=RULES, now=NOW):
    return sweep(db, now, rules, cloud, PRICES)


def by_resource(result) -> dict:
    return {p.resource_id: p for p in result.proposed}


def instance(cloud: DemoCloud, name: str):
    return next(i for (_, n), i in cloud.instances.items() if n == name)


def test_proposes_for_idle_memory_held_and_stalled_nodes(fleet_db, cloud):
    result = run(fleet_db, cloud)
    made = by_resource(result)
    assert set(made) == WASTED
    assert result.candidates == 4 and result.skipped == ()
    assert made[IDLE].evidence["state"] == "idle"
    assert made[MEMORY].evidence["state"] == "idle, memory held"
    assert made[STALLED].evidence["state"] == "stalled"
    assert made[GCP_IDLE].evidence["state"] == "idle"
    for p in made.values():
        assert (p.action, p.state, p.currency) == ("stop", "proposed", "USD")
        assert p.created_at == p.updated_at == stamp(NOW)
        assert p.expires_at == stamp(NOW + timedelta(hours=RULES.expiry_hours))
        assert p.nonce and p.id.startswith("rp_")
    stored = {p.resource_id: p for p in store.listed(fleet_db)}
    assert set(stored) == WASTED and stored[IDLE] == made[IDLE]
    # the cloud is read once for each new candidate, and only read
    assert sorted(cloud.calls) == sorted(("read", name) for name in WASTED)


def test_never_for_busy_partly_idle_or_silent_nodes(fleet_db, cloud):
    made = by_resource(run(fleet_db, cloud, parse_remediation({"propose_after_minutes": 5})))
    assert BUSY not in made and SILENT not in made
    assert not set(PARTLY) & set(made)
    assert set(made) == WASTED


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (30, WASTED),
        (40, WASTED),  # stalled for exactly 40 minutes: due
        (41, WASTED - {STALLED}),
        (60, WASTED - {STALLED}),  # idle for exactly the hour
        (61, set()),
        (120, set()),  # the default
    ],
)
def test_only_past_propose_after_minutes(fleet_db, cloud, minutes, expected):
    rules = parse_remediation({"propose_after_minutes": minutes})
    result = run(fleet_db, cloud, rules)
    assert set(by_resource(result)) == expected
    assert result.candidates == len(expected)


def test_a_second_sweep_proposes_nothing(fleet_db, cloud):
    assert len(run(fleet_db, cloud).proposed) == 4
    cloud.calls.clear()
    again = run(fleet_db, cloud)
    assert again.proposed == () and again.candidates == 4 and again.skipped == ()
    assert cloud.calls == []  # an open proposal: the cloud is not even read
    assert len(store.listed(fleet_db)) == 4


def test_the_unique_index_guards_when_the_open_keys_were_read_too_early(
    fleet_db, cloud, monkeypatch
):
    """Two sweeps that both read the open proposals before either inserted: the partial
    unique index makes the second insert a no-op (and nothing is audited for it)."""
    run(fleet_db, cloud)
    monkeypatch.setattr(store, "open_keys", lambda db, action=None: set())
    again = run(fleet_db, cloud)
    assert again.proposed == () and again.candidates == 4
    assert len(store.listed(fleet_db)) == 4
    proposed = [e for e in store.audit_events(fleet_db) if e["event"] == "proposed"]
    assert len(proposed) == 4


def test_two_sweeps_from_two_connections_at_once_propose_once(fleet_db, db_path):
    barrier = threading.Barrier(2)
    results, errors = [], []

    def one() -> None:
        db = connect(db_path)
        try:
            barrier.wait(timeout=10)
            results.append(run(db, DemoCloud.of_demo_fleet()))
        except Exception as exc:  # reported below, with the other thread's result
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    made = [p.resource_id for r in results for p in r.proposed]
    assert sorted(made) == sorted(WASTED)  # each once, between the two sweeps
    stored = store.listed(fleet_db)
    assert sorted(p.resource_id for p in stored) == sorted(WASTED)
    proposed = [e for e in store.audit_events(fleet_db) if e["event"] == "proposed"]
    assert len(proposed) == 4


def test_a_snoozed_row_is_respected_until_it_ends(fleet_db, cloud):
    p = by_resource(run(fleet_db, cloud))[IDLE]
    until = stamp(NOW + timedelta(hours=4))
    assert store.move(fleet_db, p.id, ("proposed",), "snoozed", NOW, snoozed_until=until)
    cloud.calls.clear()
    again = run(fleet_db, cloud)
    assert again.proposed == () and cloud.calls == []
    # a snooze that has ended: proposed again (a new proposal; the old row stays snoozed)
    with fleet_db.conn:
        fleet_db.execute(
            "UPDATE proposals SET snoozed_until = ? WHERE id = ?",
            [stamp(NOW - timedelta(minutes=1)), p.id],
        )
    later = by_resource(run(fleet_db, cloud))
    assert set(later) == {IDLE} and later[IDLE].id != p.id
    assert store.get(fleet_db, p.id).state == "snoozed"


def test_a_future_keep_until_tag_is_respected(fleet_db, cloud):
    kept = NOW + timedelta(days=2)
    instance(cloud, IDLE).tags[KEEP_TAG] = str(int(kept.timestamp()))
    result = run(fleet_db, cloud)
    assert set(by_resource(result)) == WASTED - {IDLE}
    assert result.skipped == (f"{IDLE}: kept until {stamp(kept)} ({KEEP_TAG} tag)",)


@pytest.mark.parametrize(
    "tag",
    [str(int((NOW - timedelta(minutes=1)).timestamp())), str(int(NOW.timestamp())), "soon", ""],
    ids=["past", "now", "not-a-number", "empty"],
)
def test_a_past_or_unreadable_keep_until_tag_is_ignored(fleet_db, cloud, tag):
    instance(cloud, IDLE).tags[KEEP_TAG] = tag
    result = run(fleet_db, cloud)
    assert IDLE in by_resource(result) and result.skipped == ()


def test_instances_not_running_or_gone_or_unreadable_are_skipped_with_a_reason(
    fleet_db, cloud, monkeypatch
):
    instance(cloud, IDLE).state = "stopped"
    del cloud.instances[("gcp", GCP_IDLE)]
    real_read = _DemoReader.read

    def read(self, target):
        if target.id == MEMORY:
            raise FinopsError("AccessDenied on ec2:DescribeInstances")
        return real_read(self, target)

    monkeypatch.setattr(_DemoReader, "read", read)
    result = run(fleet_db, cloud)
    assert set(by_resource(result)) == {STALLED}
    assert sorted(result.skipped) == sorted(
        [
            f"{IDLE}: not running",
            f"{GCP_IDLE}: not found in the cloud",
            f"{MEMORY}: cannot read it (AccessDenied on ec2:DescribeInstances)",
        ]
    )
    assert result.candidates == 4


def test_the_saving_is_net_of_what_keeps_billing(fleet_db, cloud):
    made = by_resource(run(fleet_db, cloud))
    aws_disk = 500 * 0.08 / HOURS_PER_MONTH  # the demo's 500 GB gp3
    gcp_disk = 500 * 0.10 / HOURS_PER_MONTH  # 500 GB pd-balanced
    for name, disk in ((IDLE, aws_disk), (STALLED, aws_disk), (GCP_IDLE, gcp_disk)):
        p = made[name]
        hourly = p.evidence["hourly"]
        assert hourly and hourly > 1
        assert p.keeps_billing_per_hour == round(disk, 4)
        assert p.saving_per_hour == round(hourly - disk, 4)
    assert made[IDLE].evidence["keeps_billing"] == (
        f"500 GB gp3 at $0.08/GB-month (list prices of {PRICES_AS_OF})"
    )
    assert made[GCP_IDLE].evidence["keeps_billing"] == (
        f"500 GB pd-balanced at $0.1/GB-month (list prices of {PRICES_AS_OF})"
    )


class _Disks(DemoCloud):
    """The demo cloud, but the idle instance has two kinds of disk and two static IPs."""

    def reader(self, cloud):
        base = super().reader(cloud)
        demo = self

        class Reader:
            def read(self, target):
                seen = base.read(target)
                if target.id != IDLE:
                    return seen
                demo.calls.append(("read+disks", target.id))
                return replace(
                    seen, disks_gb=(("gp2", 100.0), ("io2", 40.0), ("gp2", 20.0)), addresses=2
                )

        return Reader()


def test_every_disk_and_address_is_priced_from_the_dated_table(fleet_db):
    cloud = _Disks(list(DemoCloud.of_demo_fleet().instances.values()))
    p = by_resource(run(fleet_db, cloud))[IDLE]
    keeps = (120 * 0.10 + 40 * 0.125) / HOURS_PER_MONTH + 2 * 0.005
    assert p.keeps_billing_per_hour == round(keeps, 4)
    assert p.saving_per_hour == round(p.evidence["hourly"] - keeps, 4)
    assert p.evidence["keeps_billing"] == (
        "120 GB gp2 at $0.1/GB-month, 40 GB io2 at $0.125/GB-month, 2 static IPs at $0.005/h "
        f"(list prices of {PRICES_AS_OF})"
    )


def test_the_evidence(fleet_db, cloud):
    made = by_resource(run(fleet_db, cloud))
    idle, memory, stalled = made[IDLE], made[MEMORY], made[STALLED]
    assert set(idle.evidence) == {
        "state",
        "since",
        "gpus",
        "util",
        "idle_dollars",
        "hourly",
        "price_basis",
        "processes",
        "memory_mb",
        "keeps_billing",
        "blockers",
        "labelled_owner",
        "group",
        "observed",
    }
    assert idle.evidence["since"] == "2026-11-22T05:00+00:00"
    assert idle.evidence["gpus"] == 8 and idle.evidence["util"] == 0.0
    assert idle.evidence["processes"] == 0 and idle.evidence["memory_mb"] == 0
    assert idle.evidence["idle_dollars"] == pytest.approx(idle.evidence["hourly"], abs=0.01)
    assert idle.evidence["price_basis"]
    assert idle.evidence["blockers"] == [] and idle.evidence["group"] is None
    observed = idle.evidence["observed"]
    assert observed["state"] == "running" and observed["type"] == "p4d.24xlarge"
    assert observed["tags"] == {"owner": "alice@acme.ai", "project": "bert-training"}
    assert observed["fingerprint"] == idle.fingerprint
    assert memory.evidence["processes"] > 0 and memory.evidence["memory_mb"] > 0
    assert stalled.evidence["since"] == "2026-11-22T05:20+00:00"
    assert stalled.evidence["idle_dollars"] == pytest.approx(
        stalled.evidence["hourly"] * 40 / 60, abs=0.01
    )
    assert (idle.owner, idle.project, idle.node) == ("alice@acme.ai", "bert-training", IDLE)
    assert (idle.cloud, idle.account, idle.region) == ("aws", "123456789012", "us-east-1")
    assert (idle.instance_type, idle.spot) == ("p4d.24xlarge", False)
    gcp = made[GCP_IDLE]
    assert (gcp.cloud, gcp.account, gcp.region) == ("gcp", "acme-vision", "us-central1-a")
    assert target_of_proposal(gcp) == Target(
        "gcp", "acme-vision", "us-central1-a", GCP_IDLE, "a2-highgpu-8g", False
    )


def test_the_owner_comes_from_the_cloud_tag_not_the_agent_label(fleet_db, cloud):
    instance(cloud, IDLE).tags["owner"] = "zed@acme.ai"
    del instance(cloud, GCP_IDLE).tags["owner"]
    made = by_resource(run(fleet_db, cloud))
    assert made[IDLE].owner == "zed@acme.ai"
    # no tag: no owner (approvers decide); the heartbeat's label is kept for show only
    assert made[GCP_IDLE].owner is None
    assert made[GCP_IDLE].evidence["labelled_owner"] == "carol@acme.ai"


def test_each_proposal_is_audited_by_the_sweep(fleet_db, cloud):
    made = by_resource(run(fleet_db, cloud))
    events = store.audit_events(fleet_db)
    assert [e["event"] for e in events] == ["proposed"] * 4
    assert {e["proposal_id"] for e in events} == {p.id for p in made.values()}
    for e in events:
        assert (e["actor_user_id"], e["mode"], e["action"]) == ("sweep", "dry-run", "stop")
        assert e["after"]["state"] == "proposed"
    real = parse_remediation({"propose_after_minutes": 30, "dry_run": False})
    with fleet_db.conn:
        fleet_db.execute("UPDATE proposals SET state = 'expired'")
    run(fleet_db, cloud, real)
    assert {e["mode"] for e in store.audit_events(fleet_db)[4:]} == {"real"}


@pytest.mark.parametrize(
    "raw",
    [None, {"enabled": False, "propose_after_minutes": 30}],
    ids=["unconfigured", "disabled"],
)
def test_disabled_or_unconfigured_rules_propose_nothing(fleet_db, cloud, raw):
    result = run(fleet_db, cloud, parse_remediation(raw))
    assert result.proposed == () and result.candidates == 0 and result.skipped == ()
    assert store.listed(fleet_db) == [] and store.audit_events(fleet_db) == []
    assert cloud.calls == []


def test_a_node_whose_account_is_unknown_is_skipped_with_a_reason(fleet_db, cloud):
    with fleet_db.conn:
        fleet_db.execute("UPDATE gpu_latest SET account = NULL WHERE node = ?", [GCP_IDLE])
    result = run(fleet_db, cloud)
    assert set(by_resource(result)) == WASTED - {GCP_IDLE}
    assert result.skipped == (f"{GCP_IDLE}: its cloud account, zone or resource id is unknown",)
    assert ("read", GCP_IDLE) not in cloud.calls


# -- target_of -----------------------------------------------------------------------------
def node(provider, place, hostname="host", itype="x.large", spot=False) -> NodeState:
    at = datetime(2026, 11, 22, 5, 0)
    return NodeState(
        node=place[0] or hostname,
        hostname=hostname,
        provider=provider,
        instance_type=itype,
        spot=spot,
        project="p",
        owner="o@acme.ai",
        state="idle",
        since=at,
        last_seen=at,
        place=place,
    )


ARM = (
    "/subscriptions/00000000-0000-4000-8000-00000000a5a1/resourceGroups/rg-speech/providers/"
    "Microsoft.Compute/virtualMachines/asr-nd96-0"
)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (
            node("aws", ("i-0abc", "us-east-1", "us-east-1a", "123456789012"), itype="p5.48xlarge"),
            Target("aws", "123456789012", "us-east-1", "i-0abc", "p5.48xlarge", False),
        ),
        (  # no account reported: the default credentials' account
            node("aws", ("i-0abc", "us-east-1", None, None), spot=True),
            Target("aws", "", "us-east-1", "i-0abc", "x.large", True),
        ),
        (node("aws", ("i-0abc", None, None, "123")), None),
        (node("aws", (None, "us-east-1", None, "123")), None),
        (  # GCE: the instance's name is the hostname's first label
            node(
                "gcp",
                ("1234567890", "us-central1", "us-central1-a", "acme-vision"),
                hostname="vision-a2-0.us-central1-a.c.acme-vision.internal",
            ),
            Target("gcp", "acme-vision", "us-central1-a", "vision-a2-0", "x.large", False),
        ),
        (node("gcp", ("123", "us-central1", "us-central1-a", None), hostname="v"), None),
        (node("gcp", ("123", "us-central1", None, "acme-vision"), hostname="v"), None),
        (  # an ARM resource id names the subscription and resource group itself
            node("azure", (ARM, "eastus", None, "another-subscription")),
            Target(
                "azure",
                "00000000-0000-4000-8000-00000000a5a1",
                "rg-speech",
                "asr-nd96-0",
                "x.large",
                False,
            ),
        ),
        (  # ARM ids are case-insensitive in their fixed parts
            node("azure", (ARM.replace("/subscriptions/", "/SUBSCRIPTIONS/"), None, None, None)),
            Target(
                "azure",
                "00000000-0000-4000-8000-00000000a5a1",
                "rg-speech",
                "asr-nd96-0",
                "x.large",
                False,
            ),
        ),
        (  # a bare VM name names no resource group: not a target
            node("azure", ("asr-nd96-0", "eastus", None, "sub-1")),
            None,
        ),
        (node("azure", ("asr-nd96-0", "eastus", None, None)), None),
        (node("azure", (None, "eastus", None, "sub-1")), None),
        (node(None, ("i-0abc", "us-east-1", None, "123")), None),
        (node("onprem", ("i-0abc", "us-east-1", None, "123")), None),
    ],
    ids=[
        "aws",
        "aws-no-account",
        "aws-no-region",
        "aws-no-id",
        "gcp",
        "gcp-no-project",
        "gcp-no-zone",
        "azure-arm-id",
        "azure-arm-id-upper",
        "azure-name",
        "azure-name-no-subscription",
        "azure-no-id",
        "no-provider",
        "unknown-provider",
    ],
)
def test_target_of(n, expected):
    assert target_of(n) == expected


def test_every_demo_node_is_a_target_of_the_demo_cloud(fleet_db):
    from finops_bot.gpu.fleet import fleet

    cloud = DemoCloud.of_demo_fleet()
    nodes = fleet(fleet_db, NOW, PRICES)
    assert len(nodes) == 12
    for n in nodes:
        target = target_of(n)
        assert target is not None, n.node
        found = cloud.find(target)
        assert found is not None and found.target.account == target.account
        assert cloud.reader(target.cloud).read(target) == Observed(
            True,
            "running",
            found.target.type,
            found.observed().launched,
            found.tags,
            disks_gb=found.observed().disks_gb,
            spot=found.target.spot,
        )
