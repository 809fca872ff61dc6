"""The AWS reader and actions (remediation.aws) against moto's ``mock_aws``, which stands in
for EC2 and Auto Scaling (boto3 is real; moto answers its HTTP calls in memory). Where moto
cannot produce a case (an instance-store root, an UnauthorizedOperation) a botocore Stubber
gives the answer AWS would. moto lets a one-time Spot instance stop, so the guard that
refuses it is ours, and tested here."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore import exceptions as botocore_errors
from botocore.stub import Stubber
from moto import mock_aws

from finops_bot.remediation import aws
from finops_bot.remediation.registry import (
    ACTIONS,
    KEEP_TAG,
    READERS,
    Action,
    ActionError,
    Observed,
    Reader,
    Target,
)

REGION = "us-east-1"
AMI = "ami-12c6146b"  # one of moto's default AMIs (moto's own tests use it: EXAMPLE_AMI_ID)
SEE = "python -m bot permissions --cloud aws"


def target(instance_id: str) -> Target:
    return Target("aws", "", REGION, instance_id)


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch, tmp_path) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def clients() -> Iterator[Any]:
    """moto's EC2 and Auto Scaling; the factory is the one the bot is given."""
    with mock_aws():
        yield lambda service, t: boto3.client(service, region_name=t.region)


@pytest.fixture
def ec2(clients) -> Any:
    return clients("ec2", target(""))


def launch(ec2, **kwargs: Any) -> str:
    answer = ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro", **kwargs
    )
    return answer["Instances"][0]["InstanceId"]


def state_of(ec2, instance_id: str) -> str:
    answer = ec2.describe_instances(InstanceIds=[instance_id])
    return answer["Reservations"][0]["Instances"][0]["State"]["Name"]


def make_group(clients, ec2) -> tuple[Any, str]:
    """An Auto Scaling group "web" with desired capacity 1: its one instance."""
    autoscaling = clients("autoscaling", target(""))
    ec2.create_launch_template(
        LaunchTemplateName="web-lt", LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"}
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateName": "web-lt"},
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=1,
        AvailabilityZones=[f"{REGION}a"],
    )
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])
    return autoscaling, group["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name=REGION)
    return client, Stubber(client)


# -- reads ----------------------------------------------------------------------------------
def test_read_a_running_on_demand_instance(clients, ec2):
    tags = [{"Key": "owner", "Value": "ana"}, {"Key": "project", "Value": "search"}]
    iid = launch(ec2, TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=100, VolumeType="gp3")
    ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=iid, Device="/dev/sdf")
    eip = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)

    seen = aws.AwsReader(clients).read(target(iid))

    assert (seen.found, seen.state, seen.type, seen.spot) == (True, "running", "t3.micro", False)
    assert seen.tags == {"owner": "ana", "project": "search"}
    launched = datetime.fromisoformat(seen.launched)
    assert launched.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - launched).total_seconds()) < 600
    assert seen.blockers == () and seen.group is None
    assert sorted(seen.disks_gb) == [("gp2", 8.0), ("gp3", 100.0)]  # moto's root is gp2, 8 GB
    assert seen.addresses == 1


def test_read_an_instance_that_is_not_there(clients):
    assert aws.AwsReader(clients).read(target("i-0123456789abcdef0")) == Observed(found=False)


def test_read_an_instance_store_root_is_a_blocker():
    """moto launches every AMI with an EBS root, so AWS's answer comes from a Stubber."""
    ec2, ec2_stub = stubbed("ec2")
    autoscaling, as_stub = stubbed("autoscaling")
    instance = {
        "InstanceId": "i-0aaaabbbbccccdddd",
        "InstanceType": "m5d.large",
        "State": {"Code": 16, "Name": "running"},
        "RootDeviceType": "instance-store",
        "LaunchTime": datetime(2026, 11, 20, 8, tzinfo=UTC),
        "BlockDeviceMappings": [],
    }
    ec2_stub.add_response("describe_instances", {"Reservations": [{"Instances": [instance]}]})
    ec2_stub.add_response(
        "describe_instance_attribute",
        {"InstanceId": instance["InstanceId"], "DisableApiStop": {"Value": False}},
    )
    as_stub.add_response("describe_auto_scaling_instances", {"AutoScalingInstances": []})
    ec2_stub.add_response("describe_addresses", {"Addresses": []})
    factory = {"ec2": ec2, "autoscaling": autoscaling}
    with ec2_stub, as_stub:
        seen = aws.AwsReader(lambda s, t: factory[s]).read(target(instance["InstanceId"]))
    ec2_stub.assert_no_pending_responses()
    assert seen.blockers == (aws.INSTANCE_STORE,)
    assert seen.launched == "2026-11-20T08:00:00+00:00" and seen.disks_gb == ()
    assert aws.AwsStop(lambda s, t: None).refusal(target("i"), seen) == aws.INSTANCE_STORE


# -- stop, start, keep ------------------------------------------------------------------------
def test_stop_probe_is_a_dry_run_that_changes_nothing(clients, ec2):
    iid = launch(ec2)
    stop = aws.AwsStop(clients)
    seen = aws.AwsReader(clients).read(target(iid))
    assert stop.refusal(target(iid), seen) is None
    probe = stop.probe(target(iid), seen)
    assert probe.allowed and probe.detail == "ec2:StopInstances would succeed (DryRun)"
    assert state_of(ec2, iid) == "running"


def test_stop_then_start(clients, ec2):
    iid = launch(ec2)
    reader, stop, start = aws.AwsReader(clients), aws.AwsStop(clients), aws.AwsStart(clients)
    seen = reader.read(target(iid))
    assert start.refusal(target(iid), seen) == "it is running, not stopped"

    outcome = stop.run(target(iid), seen, "p1-stop")
    assert outcome.ok and outcome.state in ("stopping", "stopped") and outcome.request_id
    assert outcome.detail == "stopped" and outcome.error is None

    seen = reader.read(target(iid))
    assert seen.state == "stopped"
    assert stop.refusal(target(iid), seen) == "it is already stopped"
    assert start.refusal(target(iid), seen) is None
    assert start.probe(target(iid), seen).detail == "ec2:StartInstances would succeed (DryRun)"
    outcome = start.run(target(iid), seen, "p1-start")
    assert outcome.ok and outcome.state in ("pending", "running") and outcome.request_id
    assert state_of(ec2, iid) == "running"


def test_keep_writes_the_keep_until_tag(clients, ec2):
    iid = launch(ec2)
    keep = aws.AwsKeep(clients)
    seen = aws.AwsReader(clients).read(target(iid))
    assert keep.probe(target(iid), seen).detail == "ec2:CreateTags would succeed (DryRun)"
    assert KEEP_TAG not in aws.AwsReader(clients).read(target(iid)).tags  # the probe wrote none

    outcome = keep.run(target(iid), seen, "p1-keep", until=1795000000)
    assert outcome.ok and outcome.request_id and outcome.detail == f"tagged {KEEP_TAG}=1795000000"
    after = aws.AwsReader(clients).read(target(iid))
    assert after.tags[KEEP_TAG] == "1795000000"
    assert after.fingerprint() == seen.fingerprint()  # our own tag is not a change


# -- refusals ----------------------------------------------------------------------------------
def test_stop_protection_is_refused(clients, ec2):
    iid = launch(ec2)
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiStop={"Value": True})
    seen = aws.AwsReader(clients).read(target(iid))
    assert seen.blockers == (aws.API_STOP,)
    stop = aws.AwsStop(clients)
    assert stop.refusal(target(iid), seen) == "stop protection is on (DisableApiStop)"
    outcome = stop.run(target(iid), seen, "p1-stop")
    assert not outcome.ok and outcome.error == aws.API_STOP
    assert state_of(ec2, iid) == "running"


def test_one_time_spot_is_refused_though_moto_would_stop_it(clients, ec2):
    answer = ec2.request_spot_instances(
        Type="one-time", LaunchSpecification={"ImageId": AMI, "InstanceType": "t3.micro"}
    )
    iid = answer["SpotInstanceRequests"][0]["InstanceId"]
    seen = aws.AwsReader(clients).read(target(iid))
    assert seen.spot is True and seen.blockers == (aws.ONE_TIME_SPOT,)
    outcome = aws.AwsStop(clients).run(target(iid), seen, "p1-stop")
    assert not outcome.ok and outcome.error == aws.ONE_TIME_SPOT
    assert state_of(ec2, iid) == "running"


def test_persistent_spot_may_stop(clients, ec2):
    answer = ec2.request_spot_instances(
        Type="persistent", LaunchSpecification={"ImageId": AMI, "InstanceType": "t3.micro"}
    )
    iid = answer["SpotInstanceRequests"][0]["InstanceId"]
    seen = aws.AwsReader(clients).read(target(iid))
    assert seen.spot is True and seen.blockers == ()
    assert aws.AwsStop(clients).refusal(target(iid), seen) is None


def test_a_missing_instance_is_refused():
    gone, said = Observed(found=False), "the instance was not found"
    assert aws.AwsStop(lambda s, t: None).refusal(target("i"), gone) == said
    assert aws.AwsStart(lambda s, t: None).refusal(target("i"), gone) == said


# -- Auto Scaling --------------------------------------------------------------------------
def test_an_auto_scaling_member_is_detached_then_stopped(clients, ec2):
    autoscaling, iid = make_group(clients, ec2)
    seen = aws.AwsReader(clients).read(target(iid))
    assert seen.group == "web"
    stop = aws.AwsStop(clients)

    probe = stop.probe(target(iid), seen)
    assert probe.allowed and "detached from Auto Scaling group web" in probe.detail
    assert "desired capacity decremented" in probe.detail
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])
    assert len(group["AutoScalingGroups"][0]["Instances"]) == 1  # the probe detached nothing

    outcome = stop.run(target(iid), seen, "p1-stop")
    assert outcome.ok and outcome.request_id and outcome.state in ("stopping", "stopped")
    assert outcome.detail == "detached from Auto Scaling group web (desired capacity -1); stopped"
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])
    assert group["AutoScalingGroups"][0]["DesiredCapacity"] == 0
    assert group["AutoScalingGroups"][0]["Instances"] == []
    assert state_of(ec2, iid) in ("stopping", "stopped")


def test_a_stop_denied_after_the_detach_says_both(clients, ec2):
    _, iid = make_group(clients, ec2)
    seen = aws.AwsReader(clients).read(target(iid))
    denied, stub = stubbed("ec2")
    stub.add_client_error("stop_instances", "UnauthorizedOperation", "You are not authorized")
    factory = {"ec2": denied, "autoscaling": clients("autoscaling", target(iid))}
    with stub:
        outcome = aws.AwsStop(lambda s, t: factory[s]).run(target(iid), seen, "p1-stop")
    assert not outcome.ok
    assert outcome.detail == "detached from Auto Scaling group web (desired capacity -1)"
    assert outcome.error.startswith(outcome.detail + ", but AWS denied ec2:StopInstances")


# -- errors ----------------------------------------------------------------------------------
def test_unauthorized_probe_is_not_allowed_and_names_the_permission():
    ec2, stub = stubbed("ec2")
    stub.add_client_error("stop_instances", "UnauthorizedOperation", "You are not authorized")
    running = Observed(True, "running")
    with stub:
        probe = aws.AwsStop(lambda s, t: ec2).probe(target("i-0aaaabbbbccccdddd"), running)
    assert not probe.allowed
    assert "missing ec2:StopInstances" in probe.detail and SEE in probe.detail


def test_unauthorized_read_is_an_action_error_naming_the_permission():
    ec2, stub = stubbed("ec2")
    stub.add_client_error("describe_instances", "UnauthorizedOperation", "not authorized")
    with stub, pytest.raises(ActionError) as raised:
        aws.AwsReader(lambda s, t: ec2).read(target("i-0aaaabbbbccccdddd"))
    assert "missing ec2:DescribeInstances" in str(raised.value) and SEE in str(raised.value)


def test_an_unauthorized_run_is_a_failed_outcome():
    ec2, stub = stubbed("ec2")
    stub.add_client_error("create_tags", "UnauthorizedOperation", "not authorized")
    with stub:
        outcome = aws.AwsKeep(lambda s, t: ec2).run(target("i-0a"), Observed(True), "k", until=1)
    assert not outcome.ok and "missing ec2:CreateTags" in outcome.error


class Raising:
    """A client whose every call raises ``exc`` (botocore raises these before any HTTP)."""

    def __init__(self, exc: Exception):
        self.exc = exc

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> Any:
            raise self.exc

        return call


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (botocore_errors.NoCredentialsError(), "no AWS credentials found; set AWS_PROFILE"),
        (
            botocore_errors.EndpointConnectionError(endpoint_url="https://ec2.nowhere"),
            "could not reach AWS in us-east-1",
        ),
    ],
)
def test_no_credentials_and_no_endpoint_are_one_line(exc, said):
    factory = lambda s, t: Raising(exc)  # noqa: E731
    with pytest.raises(ActionError) as raised:
        aws.AwsReader(factory).read(target("i-0a"))
    assert str(raised.value).startswith(said) and "\n" not in str(raised.value)
    probe = aws.AwsStart(factory).probe(target("i-0a"), Observed(True, "stopped"))
    assert not probe.allowed and probe.detail.startswith(said)
    outcome = aws.AwsStop(factory).run(target("i-0a"), Observed(True, "running"), "p")
    assert not outcome.ok and outcome.error.startswith(said)


# -- declarations ---------------------------------------------------------------------------
def declared_here() -> list[type]:
    return [
        v
        for v in vars(aws).values()
        if isinstance(v, type) and v.__module__ == aws.__name__ and issubclass(v, Reader | Action)
    ]


def test_every_reader_and_action_declares_permissions_and_registers():
    classes = declared_here()
    assert {c.__name__ for c in classes} == {"AwsReader", "AwsStop", "AwsStart", "AwsKeep"}
    for cls in classes:
        assert cls.permissions and all(p.count(":") == 1 for p in cls.permissions), cls
    assert READERS["aws"] is aws.AwsReader
    assert {n: ACTIONS[("aws", n)] for n in ("stop", "start", "keep")} == {
        "stop": aws.AwsStop,
        "start": aws.AwsStart,
        "keep": aws.AwsKeep,
    }


class Recorder:
    """A client factory that notes every call as the IAM permission it needs."""

    def __init__(self, clients: Any):
        self.clients, self.calls = clients, set()

    def __call__(self, service: str, t: Target) -> Any:
        client, calls = self.clients(service, t), self.calls

        class Noting:
            def __getattr__(self, name: str) -> Any:
                operation = client.meta.method_to_api_mapping[name]
                calls.add(f"{service}:{operation}")
                return getattr(client, name)

        return Noting()


def test_the_calls_made_are_the_permissions_declared(clients, ec2):
    """A read, every probe and every run, on a Spot member of an Auto Scaling group (so each
    branch calls): each class calls only what its ``permissions`` name, and all of it."""
    _, iid = make_group(clients, ec2)
    spot = ec2.request_spot_instances(
        Type="persistent", LaunchSpecification={"ImageId": AMI, "InstanceType": "t3.micro"}
    )["SpotInstanceRequests"][0]["InstanceId"]
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=10, VolumeType="gp3")
    ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=iid, Device="/dev/sdf")
    runs: list[tuple[type, str, dict]] = [
        (aws.AwsStop, iid, {}),
        (aws.AwsStart, iid, {}),
        (aws.AwsKeep, iid, {"until": 1}),
    ]
    noted = Recorder(clients)
    for instance in (iid, spot):
        aws.AwsReader(noted).read(target(instance))
    assert noted.calls == set(aws.AwsReader.permissions)
    for cls, instance, params in runs:
        seen = aws.AwsReader(clients).read(target(instance))
        noted = Recorder(clients)
        cls(noted).probe(target(instance), seen)
        cls(noted).run(target(instance), seen, "p", **params)
        assert noted.calls == set(cls.permissions), cls


def test_importing_the_module_needs_no_boto3():
    code = (
        "import sys; sys.modules.update(boto3=None, botocore=None); "
        "import finops_bot.remediation.aws as a; print(a.AwsStop.name)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "stop", done.stderr
