"""GCP remediation through the real compute_v1 InstancesClient (REST transport, anonymous
credentials), answered over HTTP by `responses` with bodies shaped from the published REST
reference (fields the SDK parses; values invented):

- instances.get / stop / start / setLabels / testIamPermissions:
  https://cloud.google.com/compute/docs/reference/rest/v1/instances (and .../instances/get,
  .../instances/stop, .../instances/start, .../instances/setLabels,
  .../instances/testIamPermissions)
- the Operation resource and zoneOperations.get, which the SDK's ExtendedOperation polls:
  https://cloud.google.com/compute/docs/reference/rest/v1/zoneOperations
- error bodies: https://cloud.google.com/compute/docs/api/handling-errors
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from google.api_core.retry import retry_unary
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from finops_bot.remediation import gcp
from finops_bot.remediation.registry import KEEP_TAG, ActionError, Target

PROJECT, ZONE, NAME = "acme-research-4821", "us-central1-a", "trainer-a100-0"
TARGET = Target("gcp", PROJECT, ZONE, NAME, "a2-highgpu-1g", False)
BASE = f"https://compute.googleapis.com/compute/v1/projects/{PROJECT}/zones/{ZONE}"
SELF = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/{ZONE}"
INSTANCE_URL = re.compile(re.escape(f"{BASE}/instances/{NAME}") + r"(\?.*)?$")
OPERATION = "operation-1763650800123-6a1b2c3d4e5f6-7a8b9c0d-1e2f3a4b"
OPERATION_URL = re.compile(re.escape(f"{BASE}/operations/{OPERATION}") + r"(\?.*)?$")
FINGERPRINT = "vwSCKYx2Q5Y="
RESOURCE = f"projects/{PROJECT}/zones/{ZONE}/instances/{NAME}"


@pytest.fixture(autouse=True)
def no_polling_sleep(monkeypatch):
    """The operation is polled with api-core's backoff: no sleeping between polls here."""
    monkeypatch.setattr(
        retry_unary, "exponential_sleep_generator", lambda *a, **k: itertools.repeat(0.0)
    )


def clients(service: str, target: Target) -> compute_v1.InstancesClient:
    assert service == "instances" and target.cloud == "gcp"
    return compute_v1.InstancesClient(credentials=AnonymousCredentials(), transport="rest")


def instance(**over) -> dict:
    body = {
        "kind": "compute#instance",
        "id": "4567890123456789012",
        "creationTimestamp": "2026-11-01T08:12:45.118-07:00",
        "name": NAME,
        "machineType": f"{SELF}/machineTypes/a2-highgpu-1g",
        "status": "RUNNING",
        "zone": SELF,
        "networkInterfaces": [
            {
                "kind": "compute#networkInterface",
                "network": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/default",
                "networkIP": "10.128.0.5",
                "name": "nic0",
                "accessConfigs": [
                    {
                        "kind": "compute#accessConfig",
                        "type": "ONE_TO_ONE_NAT",
                        "name": "External NAT",
                        "natIP": "34.123.45.67",
                        "networkTier": "PREMIUM",
                    }
                ],
                "fingerprint": "Vx5XqZ3eC2E=",
            }
        ],
        "disks": [
            {
                "kind": "compute#attachedDisk",
                "type": "PERSISTENT",
                "mode": "READ_WRITE",
                "source": f"{SELF}/disks/{NAME}",
                "deviceName": NAME,
                "index": 0,
                "boot": True,
                "autoDelete": True,
                "interface": "SCSI",
                "diskSizeGb": "200",
            }
        ],
        "metadata": {"kind": "compute#metadata", "fingerprint": "mD3Qd1R9xLk=", "items": []},
        "scheduling": {
            "onHostMaintenance": "TERMINATE",
            "automaticRestart": True,
            "preemptible": False,
            "provisioningModel": "STANDARD",
        },
        "guestAccelerators": [
            {"acceleratorType": f"{SELF}/acceleratorTypes/nvidia-tesla-a100", "acceleratorCount": 1}
        ],
        "labels": {"project": "vision-research", "owner": "team-data"},
        "labelFingerprint": FINGERPRINT,
        "lastStartTimestamp": "2026-11-20T06:00:03.456-08:00",
        "selfLink": f"{SELF}/instances/{NAME}",
    }
    body.update(over)
    return body


def operation(kind: str, status: str, **over) -> dict:
    body = {
        "kind": "compute#operation",
        "id": "1234567890123456789",
        "name": OPERATION,
        "zone": SELF,
        "operationType": kind,
        "targetLink": f"{SELF}/instances/{NAME}",
        "targetId": "4567890123456789012",
        "status": status,
        "user": "finops-bot@acme-research-4821.iam.gserviceaccount.com",
        "progress": 100 if status == "DONE" else 0,
        "insertTime": "2026-11-22T10:00:00.123-08:00",
        "startTime": "2026-11-22T10:00:00.456-08:00",
        "selfLink": f"{SELF}/operations/{OPERATION}",
    }
    if status == "DONE":
        body["endTime"] = "2026-11-22T10:00:31.789-08:00"
    body.update(over)
    return body


def error(code: int, message: str, reason: str) -> dict:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
        }
    }


def answer_operation(kind: str) -> None:
    """zoneOperations.get answers RUNNING once, then DONE."""
    responses.add(responses.GET, OPERATION_URL, json=operation(kind, "RUNNING"))
    responses.add(responses.GET, OPERATION_URL, json=operation(kind, "DONE"))


def query(call) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


@responses.activate
def test_read_running_instance():
    responses.add(responses.GET, INSTANCE_URL, json=instance())
    seen = gcp.GcpReader(clients).read(TARGET)
    assert seen.found and seen.state == "running" and seen.type == "a2-highgpu-1g"
    assert seen.launched == "2026-11-20T14:00:03+00:00"  # lastStartTimestamp, in UTC
    assert seen.tags == {"project": "vision-research", "owner": "team-data"}
    assert seen.disks_gb == (("persistent", 200.0),)
    assert seen.addresses == 0  # an accessConfig's natIP may be ephemeral: not counted
    assert seen.spot is False and seen.group is None and seen.blockers == ()
    assert responses.calls[0].request.headers.get("Authorization") is None  # anonymous


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("TERMINATED", "stopped"),
        ("STOPPING", "stopping"),
        ("STAGING", "pending"),
        ("PROVISIONING", "pending"),
        ("SUSPENDED", "suspended"),
    ],
)
@responses.activate
def test_read_maps_status(status, state):
    spot = {"provisioningModel": "SPOT", "instanceTerminationAction": "STOP"}
    body = instance(status=status, scheduling=spot)
    del body["lastStartTimestamp"]
    responses.add(responses.GET, INSTANCE_URL, json=body)
    seen = gcp.GcpReader(clients).read(TARGET)
    assert seen.state == state and seen.spot is True
    assert seen.launched == "2026-11-01T15:12:45+00:00"  # creationTimestamp without a start


@responses.activate
def test_read_not_found():
    message = f"The resource '{RESOURCE}' was not found"
    responses.add(responses.GET, INSTANCE_URL, status=404, json=error(404, message, "notFound"))
    assert gcp.GcpReader(clients).read(TARGET).found is False


@responses.activate
def test_read_forbidden_names_the_permission():
    message = f"Required 'compute.instances.get' permission for '{RESOURCE}'"
    responses.add(responses.GET, INSTANCE_URL, status=403, json=error(403, message, "forbidden"))
    with pytest.raises(ActionError) as exc:
        gcp.GcpReader(clients).read(TARGET)
    assert "compute.instances.get" in str(exc.value)
    assert "python -m bot permissions --cloud gcp" in str(exc.value)
    assert "\n" not in str(exc.value)


@responses.activate
def test_read_api_disabled_says_enable_it():
    message = f"Compute Engine API has not been used in project {PROJECT} before or it is disabled."
    responses.add(
        responses.GET, INSTANCE_URL, status=403, json=error(403, message, "accessNotConfigured")
    )
    with pytest.raises(ActionError, match="gcloud services enable compute.googleapis.com"):
        gcp.GcpReader(clients).read(TARGET)


@responses.activate
def test_managed_instance_group_and_local_ssd_block_a_stop():
    mig = f"projects/123456789012/zones/{ZONE}/instanceGroupManagers/trainers-mig"
    body = instance(
        metadata={
            "kind": "compute#metadata",
            "items": [
                {"key": "instance-template", "value": "projects/123/global/instanceTemplates/t"},
                {"key": "created-by", "value": mig},
            ],
        }
    )
    body["disks"].append(
        {
            "kind": "compute#attachedDisk",
            "type": "SCRATCH",
            "interface": "NVME",
            "diskSizeGb": "375",
        }
    )
    responses.add(responses.GET, INSTANCE_URL, json=body)
    seen = gcp.GcpReader(clients).read(TARGET)
    assert seen.group == "trainers-mig"
    assert seen.disks_gb == (("persistent", 200.0),)  # a local SSD does not bill when stopped
    assert seen.blockers == (
        gcp.LOCAL_SSD,
        "it belongs to managed instance group trainers-mig, which would recreate it; "
        "resize the group instead",
    )
    assert "--discard-local-ssd" in gcp.GcpStop(clients).refusal(TARGET, seen)
    outcome = gcp.GcpStop(clients).run(TARGET, seen, "p1-stop")
    assert not outcome.ok and "local SSDs" in outcome.error
    assert len(responses.calls) == 1  # refused: no stop was sent


@responses.activate
def test_stop_probe_allowed_and_denied():
    url = f"{BASE}/instances/{NAME}/testIamPermissions"
    responses.add(responses.POST, url, json={"permissions": ["compute.instances.stop"]})
    responses.add(responses.POST, url, json={})  # GCP leaves out what it does not grant
    stop = gcp.GcpStop(clients)
    allowed = stop.probe(TARGET, None)
    assert allowed.allowed and "compute.instances.stop allowed" in allowed.detail
    assert json.loads(responses.calls[0].request.body) == {
        "permissions": ["compute.instances.stop"]
    }
    denied = stop.probe(TARGET, None)
    assert not denied.allowed and "deny compute.instances.stop" in denied.detail
    assert "python -m bot permissions --cloud gcp" in denied.detail


@responses.activate
def test_stop_waits_for_the_operation_with_a_stable_request_id():
    responses.add(responses.GET, INSTANCE_URL, json=instance())
    responses.add(
        responses.POST, f"{BASE}/instances/{NAME}/stop", json=operation("stop", "RUNNING")
    )
    answer_operation("stop")
    seen = gcp.GcpReader(clients).read(TARGET)
    outcome = gcp.GcpStop(clients).run(TARGET, seen, "p1-stop")
    assert outcome.ok and outcome.state == "stopped" and outcome.detail == "stopped"
    sent = query(responses.calls[1])["requestId"]
    assert outcome.request_id == sent == gcp.request_uuid("p1-stop")
    assert uuid.UUID(sent).version == 5 and gcp.request_uuid("p1-stop") == sent  # a retry: same
    assert gcp.request_uuid("p2-stop") != sent
    polls = [c for c in responses.calls if "/operations/" in c.request.url]
    assert [c.request.method for c in polls] == ["GET", "GET"]


@responses.activate
def test_stop_forbidden_and_not_ready_are_failed_outcomes():
    stop_url = f"{BASE}/instances/{NAME}/stop"
    message = f"Required 'compute.instances.stop' permission for '{RESOURCE}'"
    responses.add(responses.POST, stop_url, status=403, json=error(403, message, "forbidden"))
    not_ready = f"The resource '{RESOURCE}' is not ready"
    responses.add(
        responses.POST, stop_url, status=400, json=error(400, not_ready, "resourceNotReady")
    )
    seen = gcp._observed(compute_v1.Instance.from_json(json.dumps(instance())))
    denied = gcp.GcpStop(clients).run(TARGET, seen, "p1-stop")
    assert not denied.ok and "missing compute.instances.stop" in denied.error
    busy = gcp.GcpStop(clients).run(TARGET, seen, "p1-stop")
    assert not busy.ok and "400 The resource" in busy.error and "is not ready" in busy.error
    assert "https://" not in busy.error and "\n" not in busy.error


@responses.activate
def test_an_operation_done_with_a_conflict_is_a_failed_outcome():
    responses.add(
        responses.POST, f"{BASE}/instances/{NAME}/stop", json=operation("stop", "RUNNING")
    )
    conflict = operation(
        "stop",
        "DONE",
        httpErrorStatusCode=409,
        httpErrorMessage="CONFLICT",
        error={
            "errors": [
                {
                    "code": "RESOURCE_OPERATION_RATE_EXCEEDED",
                    "message": "Operation rate exceeded for resource 'projects/"
                    f"{PROJECT}/zones/{ZONE}/instances/{NAME}'.",
                }
            ]
        },
    )
    responses.add(responses.GET, OPERATION_URL, json=conflict)
    seen = gcp._observed(compute_v1.Instance.from_json(json.dumps(instance())))
    outcome = gcp.GcpStop(clients).run(TARGET, seen, "p1-stop")
    assert not outcome.ok and outcome.request_id == gcp.request_uuid("p1-stop")
    assert "409" in outcome.error and "Operation rate exceeded" in outcome.error


@responses.activate
def test_start_a_stopped_instance():
    responses.add(responses.GET, INSTANCE_URL, json=instance(status="TERMINATED"))
    responses.add(
        responses.POST, f"{BASE}/instances/{NAME}/start", json=operation("start", "RUNNING")
    )
    answer_operation("start")
    seen = gcp.GcpReader(clients).read(TARGET)
    assert gcp.GcpStop(clients).refusal(TARGET, seen) == "it is already stopped"
    outcome = gcp.GcpStart(clients).run(TARGET, seen, "p1-start")
    assert outcome.ok and outcome.state == "running"
    assert query(responses.calls[1])["requestId"] == outcome.request_id
    running = gcp._observed(compute_v1.Instance.from_json(json.dumps(instance())))
    assert gcp.GcpStart(clients).refusal(TARGET, running) == "it is running, not stopped"


@responses.activate
def test_keep_writes_the_label_with_a_fresh_fingerprint():
    responses.add(responses.GET, INSTANCE_URL, json=instance())
    responses.add(
        responses.POST,
        f"{BASE}/instances/{NAME}/setLabels",
        json=operation("setLabels", "RUNNING"),
    )
    answer_operation("setLabels")
    seen = gcp._observed(compute_v1.Instance.from_json(json.dumps(instance())))
    outcome = gcp.GcpKeep(clients).run(TARGET, seen, "p1-keep", until=1795000000)
    assert outcome.ok and outcome.detail == f"labelled {KEEP_TAG}=1795000000"
    sent = responses.calls[1].request
    assert json.loads(sent.body) == {
        "labels": {"project": "vision-research", "owner": "team-data", KEEP_TAG: "1795000000"},
        "labelFingerprint": FINGERPRINT,
    }
    assert query(responses.calls[1])["requestId"] == outcome.request_id


@responses.activate
def test_keep_probe_tests_both_permissions():
    responses.add(
        responses.POST,
        f"{BASE}/instances/{NAME}/testIamPermissions",
        json={"permissions": ["compute.instances.get"]},
    )
    probe = gcp.GcpKeep(clients).probe(TARGET, None)
    assert not probe.allowed and "deny compute.instances.setLabels" in probe.detail


@pytest.mark.parametrize(
    "cls", [gcp.GcpReader, gcp.GcpStop, gcp.GcpStart, gcp.GcpKeep], ids=lambda c: c.__name__
)
def test_every_class_declares_permissions(cls):
    assert cls.cloud == "gcp" and cls.permissions
    assert all(p.startswith("compute.instances.") for p in cls.permissions)


@responses.activate
def test_an_operation_still_running_reports_stopping(monkeypatch):
    monkeypatch.setattr(gcp, "WAIT_S", 0.05)
    responses.add(
        responses.POST, f"{BASE}/instances/{NAME}/stop", json=operation("stop", "RUNNING")
    )
    responses.add(responses.GET, OPERATION_URL, json=operation("stop", "RUNNING"))
    seen = gcp._observed(compute_v1.Instance.from_json(json.dumps(instance())))
    outcome = gcp.GcpStop(clients).run(TARGET, seen, "p1-stop")
    assert outcome.ok and outcome.state == "stopping" and "still at it" in outcome.detail
    assert outcome.request_id == gcp.request_uuid("p1-stop")


def test_no_credentials_says_what_to_do():
    from google.auth.exceptions import DefaultCredentialsError

    def no_login(service, target):
        raise DefaultCredentialsError("Your default credentials were not found.")

    with pytest.raises(ActionError, match="gcloud auth application-default login"):
        gcp.GcpReader(no_login).read(TARGET)
