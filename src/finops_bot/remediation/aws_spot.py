"""AWS: move an Auto Scaling group's new capacity to Spot, and the written plans for what no
single call can do (a standalone EC2 instance, an Azure VM: both are recreated).

A group's on-demand share above its base capacity becomes 0 % (UpdateAutoScalingGroup with a
MixedInstancesPolicy; a plain launch template is wrapped in one). Running instances are not
touched: the group replaces them only as it cycles. Errors are translated, and clients made,
by remediation.aws; boto3 stays lazy here too."""

from __future__ import annotations

import json
import shlex
from typing import Any

from finops_bot.remediation.aws import _call, _request_id
from finops_bot.remediation.registry import (
    Action,
    ActionError,
    Observed,
    Outcome,
    Probe,
    Target,
    action,
)

DESCRIBE = "autoscaling:DescribeAutoScalingGroups"
UPDATE = "autoscaling:UpdateAutoScalingGroup"
STANDALONE = "a standalone instance cannot switch to Spot in place: see the written plan"
LAUNCH_CONFIGURATION = "it uses a launch configuration; move it to a launch template first"
ALREADY = "the group already launches Spot above its base capacity"
STRATEGY = "price-capacity-optimized"


def _spec(spec: dict) -> dict:
    """A launch template spec as a request takes it: the id or the name (AWS rejects both,
    and DescribeAutoScalingGroups returns both), and the version when one is set."""
    key = "LaunchTemplateId" if spec.get("LaunchTemplateId") else "LaunchTemplateName"
    out = {key: spec[key]}
    if spec.get("Version"):
        out["Version"] = spec["Version"]
    return out


def _override(override: dict) -> dict:
    if "LaunchTemplateSpecification" not in override:
        return dict(override)
    return {
        **override,
        "LaunchTemplateSpecification": _spec(override["LaunchTemplateSpecification"]),
    }


def spot_policy(group: dict) -> tuple[dict, int]:
    """The MixedInstancesPolicy to send (the whole policy: template, overrides, distribution)
    and the on-demand % above base it replaces. Raises ValueError with the refusal."""
    mixed = group.get("MixedInstancesPolicy")
    if mixed:
        template = mixed.get("LaunchTemplate", {})
        dist = dict(mixed.get("InstancesDistribution") or {})
    elif group.get("LaunchTemplate"):
        template, dist = {"LaunchTemplateSpecification": group["LaunchTemplate"]}, {}
    elif group.get("LaunchConfigurationName"):
        raise ValueError(LAUNCH_CONFIGURATION)
    else:
        raise ValueError("the group has no launch template")
    was = int(dist.get("OnDemandPercentageAboveBaseCapacity", 100))  # AWS's default is 100
    if was == 0:
        raise ValueError(ALREADY)
    dist["OnDemandPercentageAboveBaseCapacity"] = 0
    dist.setdefault("OnDemandBaseCapacity", 0)
    if "SpotInstancePools" not in dist:  # pools only go with lowest-price: leave that alone
        dist.setdefault("SpotAllocationStrategy", STRATEGY)
    lt: dict[str, Any] = {
        "LaunchTemplateSpecification": _spec(template["LaunchTemplateSpecification"])
    }
    if template.get("Overrides"):
        lt["Overrides"] = [_override(o) for o in template["Overrides"]]
    return {"LaunchTemplate": lt, "InstancesDistribution": dist}, was


@action
class AwsSpot(Action):
    """New instances of the target's Auto Scaling group launch as Spot above its base."""

    cloud = "aws"
    name = "spot"
    # UpdateAutoScalingGroup on a group with a launch template: AWS also checks, as the
    # caller, ec2:RunInstances (always), iam:PassRole (when the template names an instance
    # profile) and ec2:CreateTags (when it has tag specifications), as if launching from it
    # (AWS docs: "Control Amazon EC2 launch template usage in Auto Scaling groups"). The
    # bot calls only the two autoscaling operations; scope iam:PassRole to the instance
    # roles' ARNs with iam:PassedToService=ec2.amazonaws.com where you can.
    permissions = (DESCRIBE, UPDATE, "ec2:RunInstances", "ec2:CreateTags", "iam:PassRole")

    def _change(self, target: Target, observed: Observed) -> tuple[str, dict, int, int]:
        """(group, policy, was %, base) or ActionError/ValueError with why not."""
        if not observed.found:
            raise ValueError("the instance was not found")
        if not observed.group:
            raise ValueError(STANDALONE)
        answer = _call(self.clients, target, DESCRIBE, AutoScalingGroupNames=[observed.group])
        groups = (answer or {}).get("AutoScalingGroups", [])
        if not groups:
            raise ValueError(f"the Auto Scaling group {observed.group} was not found")
        policy, was = spot_policy(groups[0])
        base = policy["InstancesDistribution"]["OnDemandBaseCapacity"]
        return observed.group, policy, was, base

    def refusal(self, target: Target, observed: Observed) -> str | None:
        try:
            self._change(target, observed)
        except ValueError as exc:
            return str(exc)
        except ActionError as exc:
            return f"the Auto Scaling group could not be read ({exc})"
        return None

    def probe(self, target: Target, observed: Observed) -> Probe:
        try:
            group, policy, was, base = self._change(target, observed)
        except (ValueError, ActionError) as exc:
            return Probe(False, str(exc))
        return Probe(
            True,
            f"{DESCRIBE} read group {group}: on-demand above base would go from {was} % to 0 % "
            f"(base capacity {base} on-demand kept); UpdateAutoScalingGroup has no DryRun, so "
            f"{UPDATE} (and the ec2:RunInstances / iam:PassRole checks AWS makes for the "
            "launch template) is checked only at the real call",
        )

    def run(self, target: Target, observed: Observed, request_id: str, **params: Any) -> Outcome:
        try:
            group, policy, was, _ = self._change(target, observed)
        except (ValueError, ActionError) as exc:
            return Outcome(False, error=str(exc))
        try:
            answer = _call(
                self.clients,
                target,
                UPDATE,
                AutoScalingGroupName=group,
                MixedInstancesPolicy=policy,
            )
        except ActionError as exc:
            return Outcome(False, error=str(exc))
        detail = (
            f"group {group}: new instances launch as Spot (on-demand above base 0 %, was {was} %); "
            "running instances are replaced only as the group cycles (instance refresh or scale-in)"
        )
        return Outcome(True, _request_id(answer or {}), "running", detail=detail)


def standalone_plan(target: Target, observed: Observed) -> list[str]:
    """The steps, one copyable line each, to replace a standalone on-demand EC2 instance with
    a Spot copy (AWS cannot change an instance's market in place)."""
    iid, at = target.id, f"--region {target.region}"
    kind = observed.type or target.type or "<instance-type>"
    tags = [
        {"Key": k, "Value": v} for k, v in sorted(observed.tags.items()) if not k.startswith("aws:")
    ]
    tagging = ""
    if tags:
        spec = json.dumps([{"ResourceType": "instance", "Tags": tags}], separators=(",", ":"))
        tagging = f" --tag-specifications {shlex.quote(spec)}"
    query = (
        "'Reservations[0].Instances[0].{subnet:SubnetId,groups:SecurityGroups[].GroupId,"
        "profile:IamInstanceProfile.Arn,key:KeyName}'"
    )
    return [
        f"# {iid} ({kind}) on-demand -> Spot: AWS cannot switch it in place; launch a Spot copy",
        f"1. Read its launch data: aws ec2 describe-instances {at} --instance-ids {iid} "
        f"--query {query}",
        "2. Make the job write a checkpoint, then image the instance (no reboot, so flush first): "
        f"aws ec2 create-image {at} --instance-id {iid} --name finops-spot-{iid} --no-reboot",
        f"   Wait for the image: aws ec2 wait image-available {at} --image-ids <ami-id>",
        f"3. Launch the Spot copy with the same launch data: aws ec2 run-instances {at} "
        f"--image-id <ami-id> --instance-type {kind} --subnet-id <subnet-id> "
        "--security-group-ids <sg-ids> --iam-instance-profile Arn=<profile-arn> "
        "--instance-market-options "
        "'MarketType=spot,SpotOptions={SpotInstanceType=persistent,InstanceInterruptionBehavior=stop}'"
        + tagging,
        "4. Verify on the new instance that the job resumes from its checkpoint; only then go on.",
        f"5. Stop the old instance: aws ec2 stop-instances {at} --instance-ids {iid} "
        "(terminate it and deregister the AMI once the Spot copy has run well)",
        "Risk: AWS gives a Spot instance a 2-minute interruption notice; the job must checkpoint "
        "and survive a stop at any time.",
        f"Risk: Spot capacity for {kind} may not be available (InsufficientInstanceCapacity); "
        "try another type or subnet, or keep the on-demand instance.",
        "Note: the copy has a new instance id and IP addresses; move an Elastic IP or update "
        "whatever points at the old one.",
    ]


def azure_plan(target: Target, observed: Observed) -> list[str]:
    """The steps to recreate an Azure VM as Spot (priority is fixed at creation)."""
    sub = f"--subscription {target.account} " if target.account else ""
    vm, at = target.id, f"{sub}-g {target.region}"
    size = observed.type or target.type or "<size>"
    query = (
        "'{size:hardwareProfile.vmSize,os:storageProfile.osDisk.managedDisk.id,"
        "osType:storageProfile.osDisk.osType,data:storageProfile.dataDisks[].managedDisk.id,"
        "nics:networkProfile.networkInterfaces[].id}'"
    )
    return [
        f"# Azure VM {vm} -> Spot: priority is fixed at creation; recreate it from its disks",
        f"1. Read its disks and network: az vm show {at} -n {vm} --query {query}",
        f"2. Deallocate it: az vm deallocate {at} -n {vm}",
        f"3. Snapshot the OS disk: az snapshot create {at} -n {vm}-os-spot --source <os-disk-id>",
        f"   and each data disk: az snapshot create {at} -n {vm}-data0-spot "
        "--source <data-disk-id>",
        f"4. Disks from the snapshots: az disk create {at} -n {vm}-spot-os --source {vm}-os-spot "
        f"(and {vm}-spot-data0 from {vm}-data0-spot)",
        f"5. Recreate it as Spot: az vm create {at} -n {vm}-spot --attach-os-disk {vm}-spot-os "
        f"--os-type <osType> --attach-data-disks {vm}-spot-data0 --size {size} "
        "--subnet <subnet-id> --priority Spot --eviction-policy Deallocate --max-price -1",
        f"6. Verify on {vm}-spot that the job resumes from its checkpoint; only then go on.",
        f"7. Delete the old VM: az vm delete {at} -n {vm} (then its disks and the snapshots, "
        "once the Spot VM has run well)",
        "Risk: Azure gives a Spot VM a 30-second eviction notice (Scheduled Events: Preempt); "
        "the job must survive a deallocation at any time.",
        f"Risk: Spot capacity or quota for {size} may not be available; the create then fails.",
    ]
