"""GcpSpot through the real compute_v1 InstancesClient (REST transport, anonymous
credentials), answered over HTTP by `responses` with bodies shaped from the published REST
reference (fields the SDK parses; values invented):

- instances.get / stop / start / testIamPermissions:
  https://cloud.google.com/compute/docs/reference/rest/v1/instances/get (and .../stop,
  .../start, .../testIamPermissions)
- instances.setScheduling (the body is a Scheduling resource; ``requestId`` a query param):
  https://cloud.google.com/compute/docs/reference/rest/v1/instances/setScheduling
- the Operation resource, polled by the SDK through zoneOperations.get:
  https://cloud.google.com/compute/docs/reference/rest/v1/zoneOperations/get
- error bodies: https://cloud.google.com/compute/docs/api/handling-errors
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlparse

import pytest
import responses
from google.cloud import compute_v1

from finops_bot.remediation import gcp, gcp_spot
from finops_bot.remediation.registry import ACTIONS
from tests.finops_bot.remediation.test_gcp import (  # the same project, zone and VM
    BASE,
    INSTANCE_URL,
    NAME,
    RESOURCE,
    SELF,
    TARGET,
    ZONE,
    clients,
    error,
    no_polling_sleep,  # noqa: F401 - an autouse fixture
    query,
)

STANDARD = {
    "onHostMaintenance": "TERMINATE",
    "automaticRestart": True,
    "preemptible": False,
    "provisioningModel": "STANDARD",
}
SPOT = {
    "onHostMaintenance": "TERMINATE",
    "automaticRestart": False,
    "preemptible": True,
    "provisioningModel": "SPOT",
    "instanceTerminationAction": "STOP",
}


def instance(status: str = "RUNNING", scheduling: dict = STANDARD, **over) -> dict:
    body = {
        "kind": "compute#instance",
        "id": "4567890123456789012",
        "creationTimestamp": "2026-11-01T08:12:45.118-07:00",
        "name": NAME,
        "machineType": f"{SELF}/machineTypes/a2-highgpu-1g",
        "status": status,
        "zone": SELF,
        "disks": [
            {
                "kind": "compute#attachedDisk",
                "type": "PERSISTENT",
                "mode": "READ_WRITE",
                "source": f"{SELF}/disks/{NAME}",
                "boot": True,
                "diskSizeGb": "200",
            }
        ],
        "metadata": {"kind": "compute#metadata", "fingerprint": "mD3Qd1R9xLk=", "items": []},
        "scheduling": scheduling,
        "guestAccelerators": [
            {"acceleratorType": f"{SELF}/acceleratorTypes/nvidia-tesla-a100", "acceleratorCount": 1}
        ],
        "labels": {"project": "vision-research", "owner": "team-data"},
        "labelFingerprint": "vwSCKYx2Q5Y=",
        "lastStartTimestamp": "2026-11-20T06:00:03.456-08:00",
        "selfLink": f"{SELF}/instances/{NAME}",
    }
    body.update(over)
    return body


def operation(kind: str, status: str) -> dict:
    name = f"operation-1763650800123-6a1b2c3d4e5f6-{kind.lower()}"
    body = {
        "kind": "compute#operation",
        "id": "1234567890123456789",
        "name": name,
        "zone": SELF,
        "operationType": kind,
        "targetLink": f"{SELF}/instances/{NAME}",
        "status": status,
        "progress": 100 if status == "DONE" else 0,
        "insertTime": "2026-11-22T10:00:00.123-08:00",
        "selfLink": f"{SELF}/operations/{name}",
    }
    return body


def get(status: str, scheduling: dict) -> None:
    responses.add(responses.GET, INSTANCE_URL, json=instance(status, scheduling))


def step(kind: str) -> None:
    """instances.<kind> answers a RUNNING operation; zoneOperations.get then says DONE."""
    responses.add(
        responses.POST, f"{BASE}/instances/{NAME}/{kind}", json=operation(kind, "RUNNING")
    )
    done = operation(kind, "DONE")
    responses.add(responses.GET, f"{BASE}/operations/{done['name']}", json=done)


def posts() -> list:
    return [c for c in responses.calls if c.request.method == "POST"]


def observed(status: str = "RUNNING", scheduling: dict = STANDARD, **over):
    return gcp._observed(
        compute_v1.Instance.from_json(json.dumps(instance(status, scheduling, **over)))
    )


def rid(step_name: str, request_id: str = "p1-spot") -> str:
    return gcp.request_uuid(f"{request_id}/{step_name}")


@responses.activate
def test_stop_set_scheduling_start_in_order_with_request_ids():
    get("RUNNING", STANDARD)
    step("stop")
    get("TERMINATED", STANDARD)
    step("setScheduling")
    get("TERMINATED", SPOT)
    step("start")
    outcome = gcp_spot.GcpSpot(clients).run(TARGET, observed(), "p1-spot")
    assert outcome.ok and outcome.state == "running", outcome
    assert outcome.detail == "stopped; set to Spot (termination: STOP); started"
    sent = posts()
    assert [urlparse(c.request.url).path.rsplit("/", 1)[-1] for c in sent] == [
        "stop",
        "setScheduling",
        "start",
    ]
    ids = [query(c)["requestId"] for c in sent]
    assert ids == [rid("stop"), rid("setScheduling"), rid("start")]
    assert len(set(ids)) == 3 and all(uuid.UUID(i).version == 5 for i in ids)
    assert outcome.request_id == ids[0]
    assert json.loads(sent[1].request.body) == {
        "provisioningModel": "SPOT",
        "instanceTerminationAction": "STOP",
        "onHostMaintenance": "TERMINATE",
        "automaticRestart": False,
    }
    assert sent[0].request.body in (None, b"", "")  # stop and start carry no body


@pytest.mark.parametrize(
    ("code", "reason", "says"),
    [
        (400, "badRequest", "400 Invalid value for field 'resource.provisioningModel'"),
        (403, "forbidden", "missing compute.instances.setScheduling"),
    ],
)
@responses.activate
def test_a_failed_set_scheduling_is_resumed_by_a_second_run(code, reason, says):
    message = {
        400: "Invalid value for field 'resource.provisioningModel': 'SPOT'.",
        403: f"Required 'compute.instances.setScheduling' permission for '{RESOURCE}'",
    }[code]
    get("RUNNING", STANDARD)
    step("stop")
    get("TERMINATED", STANDARD)
    url = f"{BASE}/instances/{NAME}/setScheduling"
    responses.add(responses.POST, url, status=code, json=error(code, message, reason))
    get("TERMINATED", STANDARD)  # the read after the failure
    spot = gcp_spot.GcpSpot(clients)
    failed = spot.run(TARGET, observed(), "p1-spot")
    assert not failed.ok and failed.state == "stopped"
    assert failed.error.startswith("setScheduling failed: ")
    assert says in failed.error
    assert failed.error.endswith("; the instance is stopped: run it again to resume")
    assert failed.request_id == rid("stop") and "\n" not in failed.error

    responses.calls.reset()
    get("TERMINATED", STANDARD)  # the second run's fresh read: stopped, not yet Spot
    step("setScheduling")
    get("TERMINATED", SPOT)
    step("start")
    again = spot.run(TARGET, observed(), "p1-spot")
    assert again.ok and again.state == "running", again
    assert again.detail == (
        "resumed (found it stopped, not yet Spot); set to Spot (termination: STOP); started"
    )
    sent = posts()
    assert [c.request.url.split("?")[0].rsplit("/", 1)[-1] for c in sent] == [
        "setScheduling",
        "start",
    ]  # stop was not called again
    assert query(sent[0])["requestId"] == rid("setScheduling") == again.request_id


@responses.activate
def test_found_stopped_and_spot_only_starts():
    get("TERMINATED", SPOT)
    step("start")
    outcome = gcp_spot.GcpSpot(clients).run(TARGET, observed(), "p1-spot")
    assert outcome.ok and outcome.state == "running"
    assert outcome.detail == "resumed (found it stopped, already Spot); started"
    sent = posts()
    assert len(sent) == 1 and "/start?" in sent[0].request.url
    assert query(sent[0])["requestId"] == rid("start") == outcome.request_id


@responses.activate
def test_found_running_as_spot_does_nothing():
    get("RUNNING", SPOT)
    outcome = gcp_spot.GcpSpot(clients).run(TARGET, observed(), "p1-spot")
    assert outcome.ok and outcome.request_id is None and "nothing to do" in outcome.detail
    assert posts() == []


@responses.activate
def test_a_failed_stop_says_it_is_still_running():
    get("RUNNING", STANDARD)
    message = f"Required 'compute.instances.stop' permission for '{RESOURCE}'"
    stop_url = f"{BASE}/instances/{NAME}/stop"
    responses.add(responses.POST, stop_url, status=403, json=error(403, message, "forbidden"))
    outcome = gcp_spot.GcpSpot(clients).run(TARGET, observed(), "p1-spot")
    assert not outcome.ok and outcome.error.startswith("stop failed: GCP denied")
    assert outcome.error.endswith("the instance is running: run it again to resume")
    assert len(posts()) == 1


def test_refusals():
    spot = gcp_spot.GcpSpot(clients)
    assert spot.refusal(TARGET, observed()) is None
    assert spot.refusal(TARGET, observed("TERMINATED")) is None
    assert spot.refusal(TARGET, observed(scheduling=SPOT)) == "it already runs as Spot"
    assert spot.refusal(TARGET, observed("STOPPING")) == "it is stopping"
    assert spot.refusal(TARGET, gcp.Observed(found=False)) == "the instance was not found"
    mig = f"projects/123456789012/zones/{ZONE}/instanceGroupManagers/trainers-mig"
    member = observed(
        metadata={"kind": "compute#metadata", "items": [{"key": "created-by", "value": mig}]}
    )
    assert spot.refusal(TARGET, member) == gcp.MIG.format("trainers-mig")


@responses.activate
def test_probe_allowed_and_denied():
    url = f"{BASE}/instances/{NAME}/testIamPermissions"
    everything = list(gcp_spot.GcpSpot.permissions)
    responses.add(responses.POST, url, json={"permissions": everything})
    responses.add(responses.POST, url, json={"permissions": ["compute.instances.stop"]})
    spot = gcp_spot.GcpSpot(clients)
    allowed = spot.probe(TARGET, observed())
    assert allowed.allowed and allowed.detail.startswith(gcp_spot.PLAN)
    assert json.loads(responses.calls[0].request.body) == {"permissions": everything}
    denied = spot.probe(TARGET, observed())
    assert not denied.allowed and "deny compute.instances.setScheduling" in denied.detail
    missing = "compute.instances.setScheduling, compute.instances.start, compute.instances.get"
    assert f"deny {missing} on" in denied.detail  # stop is granted: not named
    assert len(responses.calls) == 2  # testIamPermissions only: nothing was changed


def test_registered_with_permissions():
    assert ACTIONS[("gcp", "spot")] is gcp_spot.GcpSpot
    perms = gcp_spot.GcpSpot.permissions
    assert perms[:3] == (
        "compute.instances.stop",
        "compute.instances.setScheduling",
        "compute.instances.start",
    )
    assert set(perms) - set(perms[:3]) == {"compute.instances.get"}  # run reads before a step


@responses.activate
def test_set_scheduling_keeps_the_vms_node_affinities():
    """setScheduling replaces the whole block: a sole-tenant VM's node affinities go along."""
    tenant = {**STANDARD, "nodeAffinities": [
        {"key": "compute.googleapis.com/node-group-name", "operator": "IN", "values": ["ng-1"]}
    ], "minNodeCpus": 4}  # fmt: skip
    get("TERMINATED", tenant)
    step("setScheduling")
    get("TERMINATED", {**SPOT, **{k: tenant[k] for k in ("nodeAffinities", "minNodeCpus")}})
    step("start")
    outcome = gcp_spot.GcpSpot(clients).run(TARGET, observed("TERMINATED", tenant), "p1-spot")
    assert outcome.ok, outcome
    body = json.loads(posts()[0].request.body)
    assert body["provisioningModel"] == "SPOT" and body["onHostMaintenance"] == "TERMINATE"
    assert body["nodeAffinities"] == tenant["nodeAffinities"] and body["minNodeCpus"] == 4
