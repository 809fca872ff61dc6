"""AWS: EC2 instances (and their Auto Scaling groups) behind the remediation registry.

Every cloud call goes through ``_call`` with the IAM permission it needs, written as
``service:Operation``: the client comes from ``self.clients(service, target)`` and the
method is the operation's snake-case name, so the permission a class declares is the call
it makes. botocore errors never leave this module raw: they become an ActionError (a read),
a ``Probe(False)`` (a probe) or an ``Outcome(ok=False)`` (a run), each one line that says
what to do. boto3 stays lazy (finops_bot.adaptors): importing this module needs no SDK."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from finops_bot.adaptors import botocore_exceptions
from finops_bot.remediation.registry import (
    KEEP_TAG,
    Action,
    ActionError,
    Clients,
    Observed,
    Outcome,
    Probe,
    Reader,
    Target,
    action,
    reader,
)

SEE = "see `python -m bot permissions --cloud aws`"
DENIED = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"}
BAD_CREDENTIALS = {"AuthFailure", "InvalidClientTokenId", "ExpiredToken", "RequestExpired"}
NOT_FOUND = ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed")
GONE = ("shutting-down", "terminated")

INSTANCE_STORE = (
    "its root volume is an instance store (stopping would lose it; AWS cannot stop such instances)"
)
API_STOP = "stop protection is on (DisableApiStop)"
ONE_TIME_SPOT = "it is a one-time Spot instance (AWS cannot stop those; terminate it or let it run)"


def _code(exc: Exception) -> str | None:
    """The error code of a botocore ClientError (None for anything else)."""
    response = getattr(exc, "response", None)
    if not type(exc).__module__.startswith("botocore") or not isinstance(response, dict):
        return None
    return response.get("Error", {}).get("Code")


def _explain(exc: Exception, permission: str, target: Target) -> str | None:
    """One line for a botocore error, saying what to do; None when ``exc`` is not one."""
    if not type(exc).__module__.startswith("botocore"):
        return None
    errors = botocore_exceptions
    where = f"in {target.region}" + (f" (account {target.account})" if target.account else "")
    code = _code(exc)
    if code in DENIED:
        return f"AWS denied {permission} {where}: the IAM policy is missing {permission}; {SEE}"
    if code in BAD_CREDENTIALS:
        return f"AWS rejected the credentials ({code}); refresh them (aws sso login, a new session)"
    if code is not None:
        message = exc.response.get("Error", {}).get("Message") or ""  # type: ignore[attr-defined]
        message = " ".join(message.split())
        return f"{permission} failed {where}: {code}: {message}".rstrip(": ")
    if isinstance(exc, errors.NoCredentialsError):
        return (
            "no AWS credentials found; set AWS_PROFILE or run where an instance role grants "
            f"the bot's policy ({SEE})"
        )
    if isinstance(exc, errors.EndpointConnectionError):
        return f"could not reach AWS {where} ({exc}); check the region name and the network"
    return f"{permission} failed {where}: {exc}"


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _call(
    clients: Clients, target: Target, permission: str, quiet: tuple[str, ...] = (), **kwargs: Any
) -> dict | None:
    """Calls ``permission`` ("ec2:StopInstances" → ec2.stop_instances(**kwargs)). An error
    whose code is in ``quiet`` returns None; other botocore errors raise ActionError."""
    service, operation = permission.split(":")
    try:
        return getattr(clients(service, target), _snake(operation))(**kwargs)
    except Exception as exc:
        if _code(exc) in quiet:
            return None
        line = _explain(exc, permission, target)
        if line is None:
            raise
        raise ActionError(line) from None


def _dry_run(clients: Clients, target: Target, permission: str, **kwargs: Any) -> Probe:
    """The call with DryRun=True: AWS answers DryRunOperation when it would be allowed."""
    try:
        answer = _call(clients, target, permission, ("DryRunOperation",), DryRun=True, **kwargs)
    except ActionError as exc:
        return Probe(False, str(exc))
    if answer is None:
        return Probe(True, f"{permission} would succeed (DryRun)")
    return Probe(True, f"{permission} ran: the endpoint ignored DryRun")


def _request_id(answer: dict) -> str | None:
    return answer.get("ResponseMetadata", {}).get("RequestId")


@reader
class AwsReader(Reader):
    """An EC2 instance: state, type, launch time, tags, what blocks a stop, its Auto Scaling
    group, the EBS volumes and Elastic IPs that keep billing when it is stopped."""

    cloud = "aws"
    permissions = (
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceAttribute",
        "ec2:DescribeSpotInstanceRequests",
        "ec2:DescribeVolumes",
        "ec2:DescribeAddresses",
        "autoscaling:DescribeAutoScalingInstances",
    )

    def read(self, target: Target) -> Observed:
        answer = _call(
            self.clients, target, "ec2:DescribeInstances", NOT_FOUND, InstanceIds=[target.id]
        )
        found = [i for r in (answer or {}).get("Reservations", []) for i in r.get("Instances", [])]
        if not found:
            return Observed(found=False)
        inst = found[0]
        state = inst.get("State", {}).get("Name", "unknown")
        launched = inst.get("LaunchTime")
        iso = launched.astimezone(UTC).isoformat(timespec="seconds") if launched else None
        spot = inst.get("InstanceLifecycle") == "spot"
        seen: dict[str, Any] = {
            "found": True,
            "state": state,
            "type": inst.get("InstanceType"),
            "launched": iso,
            "tags": {t["Key"]: t.get("Value", "") for t in inst.get("Tags", [])},
            "spot": spot,
        }
        if state in GONE:
            return Observed(**seen)
        return Observed(
            **seen,
            blockers=self._blockers(target, inst, spot),
            group=self._group(target),
            disks_gb=self._disks(target, inst),
            addresses=self._addresses(target),
        )

    def _blockers(self, target: Target, inst: dict, spot: bool) -> tuple[str, ...]:
        out = []
        if inst.get("RootDeviceType") == "instance-store":
            out.append(INSTANCE_STORE)
        attr = _call(
            self.clients,
            target,
            "ec2:DescribeInstanceAttribute",
            InstanceId=target.id,
            Attribute="disableApiStop",
        )
        if (attr or {}).get("DisableApiStop", {}).get("Value"):
            out.append(API_STOP)
        if spot and self._spot_type(target, inst.get("SpotInstanceRequestId")) == "one-time":
            out.append(ONE_TIME_SPOT)
        return tuple(out)

    def _spot_type(self, target: Target, request_id: str | None) -> str | None:
        """The Spot request's type (one-time | persistent), by its id or the instance's."""
        if request_id:
            query: dict[str, Any] = {"SpotInstanceRequestIds": [request_id]}
        else:
            query = {"Filters": [{"Name": "instance-id", "Values": [target.id]}]}
        answer = _call(
            self.clients,
            target,
            "ec2:DescribeSpotInstanceRequests",
            ("InvalidSpotInstanceRequestID.NotFound",),
            **query,
        )
        requests = (answer or {}).get("SpotInstanceRequests", [])
        return requests[0].get("Type") if requests else None

    def _group(self, target: Target) -> str | None:
        answer = _call(
            self.clients,
            target,
            "autoscaling:DescribeAutoScalingInstances",
            InstanceIds=[target.id],
        )
        members = (answer or {}).get("AutoScalingInstances", [])
        return members[0].get("AutoScalingGroupName") if members else None

    def _disks(self, target: Target, inst: dict) -> tuple[tuple[str, float], ...]:
        ids = [m["Ebs"]["VolumeId"] for m in inst.get("BlockDeviceMappings", []) if "Ebs" in m]
        if not ids:
            return ()
        answer = _call(self.clients, target, "ec2:DescribeVolumes", VolumeIds=ids)
        volumes = (answer or {}).get("Volumes", [])
        return tuple((v.get("VolumeType", "ebs"), float(v.get("Size", 0))) for v in volumes)

    def _addresses(self, target: Target) -> int:
        answer = _call(
            self.clients,
            target,
            "ec2:DescribeAddresses",
            Filters=[{"Name": "instance-id", "Values": [target.id]}],
        )
        return len((answer or {}).get("Addresses", []))


def _not_found(observed: Observed) -> str | None:
    return None if observed.found else "the instance was not found"


@action
class AwsStop(Action):
    """StopInstances; a member of an Auto Scaling group is detached first (the desired
    capacity drops by one), or the group would replace it."""

    cloud = "aws"
    name = "stop"
    permissions = ("ec2:StopInstances", "autoscaling:DetachInstances")

    def refusal(self, target: Target, observed: Observed) -> str | None:
        if not observed.found:
            return _not_found(observed)
        if observed.blockers:
            return observed.blockers[0]
        if observed.state not in ("running", "pending"):
            return f"it is already {observed.state}"
        return None

    def probe(self, target: Target, observed: Observed) -> Probe:
        probe = _dry_run(self.clients, target, "ec2:StopInstances", InstanceIds=[target.id])
        if not observed.group:
            return probe
        detach = (
            f"it would first be detached from Auto Scaling group {observed.group} with the "
            "desired capacity decremented by 1 (DetachInstances has no DryRun: "
            "autoscaling:DetachInstances is not checked)"
        )
        return Probe(probe.allowed, f"{probe.detail}; {detach}")

    def run(self, target: Target, observed: Observed, request_id: str, **params: Any) -> Outcome:
        refused = self.refusal(target, observed)
        if refused:
            return Outcome(False, error=refused)
        done = []
        try:
            if observed.group:
                _call(
                    self.clients,
                    target,
                    "autoscaling:DetachInstances",
                    InstanceIds=[target.id],
                    AutoScalingGroupName=observed.group,
                    ShouldDecrementDesiredCapacity=True,
                )
                done.append(
                    f"detached from Auto Scaling group {observed.group} (desired capacity -1)"
                )
            answer = _call(self.clients, target, "ec2:StopInstances", InstanceIds=[target.id])
        except ActionError as exc:
            error = f"{'; '.join(done)}, but {exc}" if done else str(exc)
            return Outcome(False, error=error, detail="; ".join(done))
        answer = answer or {}
        changes = answer.get("StoppingInstances", [{}])
        state = changes[0].get("CurrentState", {}).get("Name") if changes else None
        return Outcome(True, _request_id(answer), state, detail="; ".join([*done, "stopped"]))


@action
class AwsStart(Action):
    """StartInstances, for a stopped instance (the undo of a stop)."""

    cloud = "aws"
    name = "start"
    permissions = ("ec2:StartInstances",)

    def refusal(self, target: Target, observed: Observed) -> str | None:
        if not observed.found:
            return _not_found(observed)
        return None if observed.state == "stopped" else f"it is {observed.state}, not stopped"

    def probe(self, target: Target, observed: Observed) -> Probe:
        return _dry_run(self.clients, target, "ec2:StartInstances", InstanceIds=[target.id])

    def run(self, target: Target, observed: Observed, request_id: str, **params: Any) -> Outcome:
        refused = self.refusal(target, observed)
        if refused:
            return Outcome(False, error=refused)
        try:
            answer = _call(self.clients, target, "ec2:StartInstances", InstanceIds=[target.id])
        except ActionError as exc:
            return Outcome(False, error=str(exc))
        changes = (answer or {}).get("StartingInstances", [])
        state = changes[0].get("CurrentState", {}).get("Name") if changes else None
        return Outcome(True, _request_id(answer or {}), state, detail="started")


@action
class AwsKeep(Action):
    """Writes the keep-until tag (UTC epoch seconds) the sweep respects."""

    cloud = "aws"
    name = "keep"
    permissions = ("ec2:CreateTags",)

    def probe(self, target: Target, observed: Observed) -> Probe:
        tags = [{"Key": KEEP_TAG, "Value": "0"}]
        return _dry_run(self.clients, target, "ec2:CreateTags", Resources=[target.id], Tags=tags)

    def run(
        self, target: Target, observed: Observed, request_id: str, until: int, **params: Any
    ) -> Outcome:
        tags = [{"Key": KEEP_TAG, "Value": str(int(until))}]
        try:
            answer = _call(self.clients, target, "ec2:CreateTags", Resources=[target.id], Tags=tags)
        except ActionError as exc:
            return Outcome(False, error=str(exc))
        detail = f"tagged {KEEP_TAG}={int(until)}"
        return Outcome(True, _request_id(answer or {}), observed.state, detail=detail)
