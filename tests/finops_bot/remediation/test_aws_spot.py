"""The AWS Spot action (remediation.aws_spot) against moto's ``mock_aws``. moto stores a
group's MixedInstancesPolicy but keeps launching on-demand instances, so these tests check
what the action SENDS and what DescribeAutoScalingGroups answers afterwards, never what moto
launches. An AccessDenied comes from a botocore Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from finops_bot.remediation import aws_spot
from finops_bot.remediation.registry import ACTIONS, Observed, Target
from tests.finops_bot.remediation.test_aws import fake_credentials  # noqa: F401 - autouse

REGION = "us-east-1"
AMI = "ami-12c6146b"
SEE = "python -m bot permissions --cloud aws"


def target(instance_id: str = "i-0aaaabbbbccccdddd") -> Target:
    return Target("aws", "", REGION, instance_id)


def member(group: str | None) -> Observed:
    return Observed(True, "running", "t3.micro", group=group, tags={"owner": "ana"})


class Spy:
    """A client factory that records every call as (permission, kwargs)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, service: str, t: Target) -> Any:
        client, calls = boto3.client(service, region_name=t.region), self.calls

        class Noting:
            def __getattr__(self, name: str) -> Any:
                def call(**kwargs: Any) -> Any:
                    calls.append((f"{service}:{client.meta.method_to_api_mapping[name]}", kwargs))
                    return getattr(client, name)(**kwargs)

                return call

        return Noting()

    def sent(self, permission: str) -> list[dict]:
        return [kwargs for p, kwargs in self.calls if p == permission]


@pytest.fixture
def autoscaling() -> Iterator[Any]:
    with mock_aws():
        boto3.client("ec2", region_name=REGION).create_launch_template(
            LaunchTemplateName="web-lt",
            LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"},
        )
        yield boto3.client("autoscaling", region_name=REGION)


def make_group(autoscaling, name: str, **launch: Any) -> None:
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=1,
        AvailabilityZones=[f"{REGION}a"],
        **launch,
    )


def policy_of(autoscaling, name: str) -> dict:
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return groups["AutoScalingGroups"][0].get("MixedInstancesPolicy")


MIXED = {
    "LaunchTemplate": {
        "LaunchTemplateSpecification": {"LaunchTemplateName": "web-lt", "Version": "$Latest"},
        "Overrides": [{"InstanceType": "t3.micro"}, {"InstanceType": "t3.small"}],
    },
    "InstancesDistribution": {
        "OnDemandBaseCapacity": 1,
        "OnDemandPercentageAboveBaseCapacity": 100,
    },
}


# -- groups -----------------------------------------------------------------------------------
def test_a_launch_template_group_becomes_a_mixed_policy_with_no_on_demand_above_base(autoscaling):
    make_group(autoscaling, "web", LaunchTemplate={"LaunchTemplateName": "web-lt"})
    assert policy_of(autoscaling, "web") is None
    spy = Spy()
    spot = aws_spot.AwsSpot(spy)
    assert spot.refusal(target(), member("web")) is None

    probe = spot.probe(target(), member("web"))
    assert probe.allowed and "from 100 % to 0 %" in probe.detail and "no DryRun" in probe.detail
    assert policy_of(autoscaling, "web") is None  # the probe changed nothing
    assert not spy.sent(aws_spot.UPDATE)

    outcome = spot.run(target(), member("web"), "p1-spot")
    assert outcome.ok and outcome.request_id and outcome.state == "running"
    assert outcome.detail == (
        "group web: new instances launch as Spot (on-demand above base 0 %, was 100 %); "
        "running instances are replaced only as the group cycles (instance refresh or scale-in)"
    )
    [sent] = spy.sent(aws_spot.UPDATE)
    lt_id = sent["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
    assert sent == {
        "AutoScalingGroupName": "web",
        "MixedInstancesPolicy": {
            "LaunchTemplate": {"LaunchTemplateSpecification": lt_id},  # no empty Overrides
            "InstancesDistribution": {
                "OnDemandPercentageAboveBaseCapacity": 0,
                "OnDemandBaseCapacity": 0,
                "SpotAllocationStrategy": "price-capacity-optimized",
            },
        },
    }
    assert list(lt_id) == ["LaunchTemplateId"]  # the id alone: AWS rejects id and name both
    stored = policy_of(autoscaling, "web")
    assert stored["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == 0
    assert stored["LaunchTemplate"]["LaunchTemplateSpecification"]["LaunchTemplateName"] == "web-lt"
    assert {p for p, _ in spy.calls} <= set(aws_spot.AwsSpot.permissions)
    assert spot.refusal(target(), member("web")) == aws_spot.ALREADY


def test_a_mixed_policy_at_100_percent_keeps_base_and_overrides(autoscaling):
    make_group(autoscaling, "mix", MixedInstancesPolicy=MIXED)
    spy = Spy()
    outcome = aws_spot.AwsSpot(spy).run(target(), member("mix"), "p1-spot")
    assert outcome.ok and "was 100 %" in outcome.detail
    [sent] = spy.sent(aws_spot.UPDATE)
    sent_dist = sent["MixedInstancesPolicy"]["InstancesDistribution"]
    assert sent_dist["OnDemandBaseCapacity"] == 1
    assert sent_dist["OnDemandPercentageAboveBaseCapacity"] == 0
    stored = policy_of(autoscaling, "mix")
    assert stored["LaunchTemplate"]["Overrides"] == MIXED["LaunchTemplate"]["Overrides"]
    assert stored["LaunchTemplate"]["LaunchTemplateSpecification"]["Version"] == "$Latest"
    assert stored["InstancesDistribution"]["OnDemandBaseCapacity"] == 1
    assert stored["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == 0


def test_a_group_already_at_0_percent_is_refused(autoscaling):
    at_zero = {**MIXED, "InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 0}}
    make_group(autoscaling, "cheap", MixedInstancesPolicy=at_zero)
    spy = Spy()
    spot = aws_spot.AwsSpot(spy)
    said = "the group already launches Spot above its base capacity"
    assert spot.refusal(target(), member("cheap")) == said
    assert spot.probe(target(), member("cheap")) == aws_spot.Probe(False, said)
    assert spot.run(target(), member("cheap"), "p").error == said
    assert not spy.sent(aws_spot.UPDATE)


def test_a_launch_configuration_group_is_refused(autoscaling):
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="old-lc", ImageId=AMI, InstanceType="t3.micro"
    )
    make_group(autoscaling, "old", LaunchConfigurationName="old-lc")
    spy = Spy()
    said = "it uses a launch configuration; move it to a launch template first"
    assert aws_spot.AwsSpot(spy).refusal(target(), member("old")) == said
    outcome = aws_spot.AwsSpot(spy).run(target(), member("old"), "p")
    assert not outcome.ok and outcome.error == said and not spy.sent(aws_spot.UPDATE)


def test_a_missing_group_or_instance_is_refused(autoscaling):
    spot = aws_spot.AwsSpot(Spy())
    assert spot.refusal(target(), member("gone")) == "the Auto Scaling group gone was not found"
    assert spot.refusal(target(), Observed(found=False)) == "the instance was not found"


# -- standalone and Azure: written plans ------------------------------------------------------
def test_a_standalone_instance_is_refused_and_has_a_written_plan():
    calls = []
    spot = aws_spot.AwsSpot(lambda s, t: calls.append(s))
    said = "a standalone instance cannot switch to Spot in place: see the written plan"
    assert spot.refusal(target(), member(None)) == said
    assert spot.run(target(), member(None), "p").error == said and not calls

    lines = aws_spot.standalone_plan(target(), member(None))
    text = "\n".join(lines)
    assert all(isinstance(line, str) and "\n" not in line for line in lines)
    assert "aws ec2 create-image --region us-east-1 --instance-id i-0aaaabbbbccccdddd" in text
    assert "--no-reboot" in text and "--instance-type t3.micro" in text
    assert (
        "--instance-market-options "
        "'MarketType=spot,SpotOptions={SpotInstanceType=persistent,InstanceInterruptionBehavior=stop}'"
    ) in text
    assert '"Key":"owner","Value":"ana"' in text  # the tags travel
    assert "checkpoint" in text and "stop-instances" in text
    assert "2-minute interruption notice" in text and "capacity" in text


def test_the_azure_plan_recreates_the_vm_as_spot():
    vm = Target("azure", "sub-1", "rg-ml", "trainer")
    lines = aws_spot.azure_plan(vm, Observed(True, "running", "Standard_NC6s_v3"))
    text = "\n".join(lines)
    assert "az vm deallocate --subscription sub-1 -g rg-ml -n trainer" in text
    assert "az snapshot create" in text and "--attach-os-disk" in text
    assert "--priority Spot --eviction-policy Deallocate" in text
    assert "--size Standard_NC6s_v3" in text and "az vm delete" in text
    assert "30-second eviction notice" in text


# -- errors and declarations ------------------------------------------------------------------
GROUP = {
    "AutoScalingGroupName": "web",
    "LaunchTemplate": {"LaunchTemplateId": "lt-0123456789abcdef0", "LaunchTemplateName": "web-lt"},
    "MinSize": 0,
    "MaxSize": 2,
    "DesiredCapacity": 1,
    "DefaultCooldown": 300,
    "AvailabilityZones": [f"{REGION}a"],
    "HealthCheckType": "EC2",
    "CreatedTime": datetime(2026, 11, 20, tzinfo=UTC),
}


def test_access_denied_on_the_update_is_a_failed_outcome_naming_the_permission():
    client = boto3.client("autoscaling", region_name=REGION)
    stub = Stubber(client)
    stub.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": [GROUP]})
    policy = {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": "lt-0123456789abcdef0"}
        },
        "InstancesDistribution": {
            "OnDemandPercentageAboveBaseCapacity": 0,
            "OnDemandBaseCapacity": 0,
            "SpotAllocationStrategy": "price-capacity-optimized",
        },
    }
    stub.add_client_error(
        "update_auto_scaling_group",
        "AccessDenied",
        "User is not authorized to perform: autoscaling:UpdateAutoScalingGroup",
        http_status_code=403,
        expected_params={"AutoScalingGroupName": "web", "MixedInstancesPolicy": policy},
    )
    with stub:
        outcome = aws_spot.AwsSpot(lambda s, t: client).run(target(), member("web"), "p")
    stub.assert_no_pending_responses()
    assert not outcome.ok and "\n" not in outcome.error
    assert "missing autoscaling:UpdateAutoScalingGroup" in outcome.error and SEE in outcome.error


def test_access_denied_on_the_read_refuses_and_fails_the_probe():
    client = boto3.client("autoscaling", region_name=REGION)
    stub = Stubber(client)
    for _ in range(2):
        stub.add_client_error("describe_auto_scaling_groups", "AccessDenied", "not authorized")
    with stub:
        spot = aws_spot.AwsSpot(lambda s, t: client)
        refusal = spot.refusal(target(), member("web"))
        probe = spot.probe(target(), member("web"))
    assert refusal.startswith("the Auto Scaling group could not be read (AWS denied")
    assert not probe.allowed and "missing autoscaling:DescribeAutoScalingGroups" in probe.detail


def test_it_declares_permissions_and_registers():
    perms = aws_spot.AwsSpot.permissions
    assert perms and all(p.count(":") == 1 for p in perms)
    assert {aws_spot.DESCRIBE, aws_spot.UPDATE, "ec2:RunInstances", "iam:PassRole"} <= set(perms)
    assert ACTIONS[("aws", "spot")] is aws_spot.AwsSpot
