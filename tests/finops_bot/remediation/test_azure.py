"""Azure remediation through the real ComputeManagementClient and its HTTP pipeline (the
requests transport, a fake TokenCredential, polling_interval=0), answered by `responses`
with bodies shaped from the published REST references (fields the SDK parses; values
invented). The api-version is the one the installed azure-mgmt-compute sends (asserted).

- Virtual Machines - Get ($expand=instanceView), Deallocate, Start:
  https://learn.microsoft.com/rest/api/compute/virtual-machines/get
  https://learn.microsoft.com/rest/api/compute/virtual-machines/deallocate
  https://learn.microsoft.com/rest/api/compute/virtual-machines/start
  and the azure-rest-api-specs examples under
  specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/*/examples/
  virtualMachineExamples/ (VirtualMachine_Get_WithInstanceView.json,
  VirtualMachine_Deallocate_*.json, VirtualMachine_Start_*.json)
- long-running operations (202, Azure-AsyncOperation, Location, the status body):
  https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations
- Tags - Update At Scope (the keep-until tag, operation Merge, api-version 2021-04-01):
  https://learn.microsoft.com/rest/api/resources/tags/update-at-scope
- ARM error bodies: https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors
"""

from __future__ import annotations

import json
import re
import threading
import time
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachine

from finops_bot.remediation import azure
from finops_bot.remediation.registry import KEEP_TAG, ActionError, Observed, Target

SUB, RG, NAME = "1caaa5a3-2b66-438e-8ab4-bce37d518c5d", "speech", "asr-nd96-0"
GROUP_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}"
VM_ID = f"{GROUP_ID}/providers/Microsoft.Compute/virtualMachines/{NAME}"
TARGET = Target("azure", SUB, RG, NAME, "Standard_ND96asr_v4", False)
ARM = "https://management.azure.com"
VM_URL = re.compile(re.escape(ARM + VM_ID) + r"\?.*")
OP_ID = "7d6d3f5e-2c1b-4a9e-8f7d-0a1b2c3d4e5f"
OPERATIONS = f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus/operations"
OP_URL = re.compile(re.escape(f"{OPERATIONS}/{OP_ID}") + r"\?.*")
TAGS_URL = re.compile(
    re.escape(f"{ARM}{VM_ID}/providers/Microsoft.Resources/tags/default") + r"\?.*"
)


class FakeCredential:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("fake-token", 4102444800)

    def get_token_info(self, *scopes, **kwargs):
        return AccessTokenInfo("fake-token", 4102444800)


def clients(service: str, target: Target) -> ComputeManagementClient:
    assert service == "compute" and target.cloud == "azure"
    return ComputeManagementClient(FakeCredential(), target.account, polling_interval=0)


def status(code: str, display: str, time: str | None = None) -> dict:
    out = {"code": code, "level": "Info", "displayStatus": display}
    if time:
        out["time"] = time
    return out


def vm(power: str = "running", **properties) -> dict:
    """A Virtual Machines - Get answer with $expand=instanceView."""
    display = {"running": "VM running", "deallocated": "VM deallocated", "stopped": "VM stopped"}
    body = {
        "name": NAME,
        "id": VM_ID,
        "type": "Microsoft.Compute/virtualMachines",
        "location": "eastus",
        "tags": {"project": "speech-asr", "owner": "team-speech"},
        "properties": {
            "vmId": "0f47b100-583c-48e3-a4c0-aefc2c9bbcc1",
            "hardwareProfile": {"vmSize": "Standard_ND96asr_v4"},
            "storageProfile": {
                "imageReference": {
                    "publisher": "Canonical",
                    "offer": "0001-com-ubuntu-server-jammy",
                    "sku": "22_04-lts-gen2",
                    "version": "latest",
                    "exactVersion": "22.04.202611010",
                },
                "osDisk": {
                    "osType": "Linux",
                    "name": "asr-os",
                    "createOption": "FromImage",
                    "caching": "ReadWrite",
                    "managedDisk": {
                        "storageAccountType": "Premium_LRS",
                        "id": f"{GROUP_ID}/providers/Microsoft.Compute/disks/asr-os",
                    },
                    "deleteOption": "Delete",
                    "diskSizeGB": 128,
                },
                "dataDisks": [
                    {
                        "lun": 0,
                        "name": "asr-data",
                        "createOption": "Empty",
                        "caching": "None",
                        "managedDisk": {
                            "storageAccountType": "PremiumV2_LRS",
                            "id": f"{GROUP_ID}/providers/Microsoft.Compute/disks/asr-data",
                        },
                        "deleteOption": "Detach",
                        "diskSizeGB": 2048,
                        "toBeDetached": False,
                    }
                ],
            },
            "osProfile": {
                "computerName": NAME,
                "adminUsername": "azureuser",
                "linuxConfiguration": {"disablePasswordAuthentication": True},
                "secrets": [],
            },
            "networkProfile": {
                "networkInterfaces": [
                    {"id": f"{GROUP_ID}/providers/Microsoft.Network/networkInterfaces/asr-nic"}
                ]
            },
            "provisioningState": "Succeeded",
            "instanceView": {
                "computerName": NAME,
                "osName": "ubuntu",
                "osVersion": "22.04",
                "hyperVGeneration": "V2",
                "statuses": [
                    status(
                        "ProvisioningState/succeeded",
                        "Provisioning succeeded",
                        "2026-11-20T06:00:12.1234567+00:00",
                    ),
                    status(f"PowerState/{power}", display.get(power, power)),
                ],
            },
            "timeCreated": "2026-11-01T15:12:45.1181234+00:00",
        },
    }
    body["properties"].update(properties)
    return body


def arm_error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def answer_lro(verb: str) -> None:
    """202 with Azure-AsyncOperation and Location, the operation InProgress then Succeeded,
    then the Location's 200 (where azure-core reads a POST's final result)."""
    version = "2026-04-01"
    async_url = f"{OPERATIONS}/{OP_ID}?p=571046f6-b640-41c1-86f7-f9f044b5adf9&api-version={version}"
    headers = {
        "Azure-AsyncOperation": async_url,
        "Location": async_url.replace("?p=", "?monitor=true&p="),
        "x-ms-request-id": OP_ID,
    }
    responses.add(
        responses.POST,
        re.compile(re.escape(f"{ARM}{VM_ID}/{verb}") + r"\?.*"),
        status=202,
        headers=headers,
    )
    polls = iter(["InProgress", "Succeeded"])

    def reply(request):
        if "monitor=true" in request.url:
            return 200, {"x-ms-request-id": "final-get"}, ""
        state = next(polls, "Succeeded")
        body = {"startTime": "2026-11-22T18:00:00.1+00:00", "status": state, "name": OP_ID}
        if state == "Succeeded":
            body["endTime"] = "2026-11-22T18:00:41.7+00:00"
        return 200, {"x-ms-request-id": "poll"}, json.dumps(body)

    responses.add_callback(responses.GET, OP_URL, callback=reply)


def observed(power: str = "running", **properties) -> Observed:
    """What the reader makes of a Get body, parsed by the SDK's model (no HTTP)."""
    return azure._observed(VirtualMachine(vm(power, **properties)))


@responses.activate
def test_read_running_vm_with_its_instance_view():
    responses.add(responses.GET, VM_URL, json=vm())
    seen = azure.AzureReader(clients).read(TARGET)
    assert seen.found and seen.state == "running" and seen.type == "Standard_ND96asr_v4"
    assert seen.launched == "2026-11-01T15:12:45+00:00"
    assert seen.tags == {"project": "speech-asr", "owner": "team-speech"}
    assert seen.disks_gb == (("Premium_LRS", 128.0), ("PremiumV2_LRS", 2048.0))
    assert seen.addresses == 0 and seen.spot is False and seen.blockers == ()
    query = parse_qs(urlparse(responses.calls[0].request.url).query)
    assert query == {"api-version": ["2026-04-01"], "$expand": ["instanceView"]}
    assert responses.calls[0].request.headers["Authorization"] == "Bearer fake-token"


@pytest.mark.parametrize(
    ("power", "state"),
    [
        ("deallocated", "stopped"),
        ("deallocating", "stopping"),
        ("stopped", "stopped-billing"),
        ("starting", "pending"),
    ],
)
def test_power_states(power, state):
    seen = observed(power, priority="Spot", evictionPolicy="Deallocate")
    assert seen.state == state and seen.spot is True


@responses.activate
def test_read_not_found():
    message = (
        f"The Resource 'Microsoft.Compute/virtualMachines/{NAME}' under resource group "
        f"'{RG}' was not found."
    )
    responses.add(responses.GET, VM_URL, status=404, json=arm_error("ResourceNotFound", message))
    assert azure.AzureReader(clients).read(TARGET).found is False


def denied(action: str) -> dict:
    return arm_error(
        "AuthorizationFailed",
        "The client 'f3c1a2b4-0000-4000-8000-00000000000b' with object id "
        f"'f3c1a2b4-0000-4000-8000-00000000000b' does not have authorization to perform "
        f"action '{action}' over scope '{VM_ID}' or the scope is invalid. If access was "
        "recently granted, please refresh your credentials.",
    )


@responses.activate
def test_read_forbidden_names_the_permission():
    read = "Microsoft.Compute/virtualMachines/read"
    responses.add(responses.GET, VM_URL, status=403, json=denied(read))
    with pytest.raises(ActionError) as exc:
        azure.AzureReader(clients).read(TARGET)
    assert f"missing {read}" in str(exc.value) and "AuthorizationFailed" in str(exc.value)
    assert "python -m bot permissions --cloud azure" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_stop_probe_is_honest_about_no_dry_run():
    probe = azure.AzureStop(clients).probe(TARGET, Observed(True, "running"))
    assert probe.allowed
    assert probe.detail.startswith("read allowed; Azure has no dry-run for deallocate")
    assert "checked at the first real call" in probe.detail


@responses.activate
def test_stop_deallocates_through_the_long_running_operation():
    answer_lro("deallocate")
    outcome = azure.AzureStop(clients).run(TARGET, Observed(True, "running"), "p1-stop")
    assert outcome.ok and outcome.state == "stopped" and outcome.detail == "deallocated"
    assert outcome.request_id == OP_ID  # the initial response's x-ms-request-id
    sent = responses.calls[0].request
    assert sent.method == "POST" and urlparse(sent.url).path.endswith(f"/{NAME}/deallocate")
    assert parse_qs(urlparse(sent.url).query) == {"api-version": ["2026-04-01"]}
    assert not [c for c in responses.calls if c.request.url.endswith("/powerOff")]
    polled = [c.request.url for c in responses.calls[1:]]
    assert len(polled) == 3 and "monitor=true" in polled[-1]


@responses.activate
def test_powered_off_but_billing_is_stoppable():
    seen = observed("stopped")
    assert seen.state == "stopped-billing"
    assert azure.AzureStop(clients).refusal(TARGET, seen) is None  # deallocating is the fix
    assert azure.AzureStart(clients).refusal(TARGET, seen) is None
    answer_lro("deallocate")
    outcome = azure.AzureStop(clients).run(TARGET, seen, "p1-stop")
    assert outcome.ok and outcome.state == "stopped"
    assert urlparse(responses.calls[0].request.url).path.endswith("/deallocate")


@responses.activate
def test_stop_refuses_deallocated_and_ephemeral():
    deallocated = observed("deallocated")
    assert azure.AzureStop(clients).refusal(TARGET, deallocated) == "it is already deallocated"
    ephemeral = vm()["properties"]["storageProfile"]
    ephemeral["osDisk"]["diffDiskSettings"] = {"option": "Local", "placement": "ResourceDisk"}
    seen = observed(storageProfile=ephemeral)
    assert seen.blockers == (azure.EPHEMERAL,) and seen.disks_gb == (("PremiumV2_LRS", 2048.0),)
    outcome = azure.AzureStop(clients).run(TARGET, seen, "p1-stop")
    assert not outcome.ok and "ephemeral" in outcome.error
    assert not responses.calls  # refused: nothing was sent


@responses.activate
def test_stop_forbidden_and_conflict_are_failed_outcomes():
    deallocate = "Microsoft.Compute/virtualMachines/deallocate/action"
    url = re.compile(re.escape(f"{ARM}{VM_ID}/deallocate") + r"\?.*")
    responses.add(
        responses.POST, url, status=403, json=denied(deallocate),
        headers={"x-ms-request-id": "b1e2c3d4-0000-4000-8000-000000000403"},
    )  # fmt: skip
    conflict = arm_error(
        "OperationNotAllowed",
        f"Operation 'deallocate' is not allowed on VM '{NAME}' since the VM is marked for "
        "deletion. You can only retry the Delete operation (or wait for an ongoing one to "
        "complete).",
    )
    responses.add(responses.POST, url, status=409, json=conflict)
    running = Observed(True, "running")
    forbidden = azure.AzureStop(clients).run(TARGET, running, "p1-stop")
    assert not forbidden.ok and f"missing {deallocate}" in forbidden.error
    assert forbidden.request_id == "b1e2c3d4-0000-4000-8000-000000000403"
    busy = azure.AzureStop(clients).run(TARGET, running, "p1-stop")
    assert not busy.ok and busy.error.endswith(
        "OperationNotAllowed: Operation 'deallocate' is not allowed on VM 'asr-nd96-0' since "
        "the VM is marked for deletion. You can only retry the Delete operation (or wait for "
        "an ongoing one to complete)."
    )


@responses.activate
def test_start_a_deallocated_vm():
    answer_lro("start")
    stopped = Observed(True, "stopped")
    outcome = azure.AzureStart(clients).run(TARGET, stopped, "p1-start")
    assert outcome.ok and outcome.state == "running" and outcome.request_id == OP_ID
    assert urlparse(responses.calls[0].request.url).path.endswith(f"/{NAME}/start")
    refusal = azure.AzureStart(clients).refusal(TARGET, Observed(True, "running"))
    assert refusal == "it is running, not stopped"


@responses.activate
def test_keep_merges_the_tag():
    responses.add(
        responses.PATCH,
        TAGS_URL,
        headers={"x-ms-request-id": "c4d5e6f7-0000-4000-8000-0000000000aa"},
        json={
            "id": f"{VM_ID}/providers/Microsoft.Resources/tags/default",
            "name": "default",
            "type": "Microsoft.Resources/tags",
            "properties": {
                "tags": {"project": "speech-asr", "owner": "team-speech", KEEP_TAG: "1795000000"}
            },
        },
    )
    outcome = azure.AzureKeep(clients).run(
        TARGET, Observed(True, "running"), "p1-keep", until=1795000000
    )
    assert outcome.ok and outcome.request_id == "c4d5e6f7-0000-4000-8000-0000000000aa"
    sent = responses.calls[0].request
    assert json.loads(sent.body) == {
        "operation": "Merge",
        "properties": {"tags": {KEEP_TAG: "1795000000"}},
    }
    assert parse_qs(urlparse(sent.url).query) == {"api-version": ["2021-04-01"]}
    assert sent.headers["Authorization"] == "Bearer fake-token"


@responses.activate
def test_keep_forbidden_names_the_permission():
    tags = "Microsoft.Resources/tags/write"
    responses.add(responses.PATCH, TAGS_URL, status=403, json=denied(tags))
    outcome = azure.AzureKeep(clients).run(TARGET, Observed(True, "running"), "k", until=1)
    assert not outcome.ok and f"missing {tags}" in outcome.error
    probe = azure.AzureKeep(clients).probe(TARGET, Observed(True, "running"))
    assert probe.allowed and "no dry-run for tag writes" in probe.detail


@pytest.mark.parametrize(
    ("resource_id", "expected"),
    [
        (VM_ID, Target("azure", SUB, RG, NAME, "Standard_ND96asr_v4", True)),
        (VM_ID.lower() + "/", Target("azure", SUB, RG.lower(), NAME, "Standard_ND96asr_v4", True)),
        (VM_ID.replace("virtualMachines", "disks"), None),
        (VM_ID.rsplit("/", 1)[0], None),
        (VM_ID + "/extensions/gpu", None),
        (
            f"/subscriptions/{SUB}/resourceGroups//providers/Microsoft.Compute/virtualMachines/x",
            None,
        ),
        ("asr-nd96-0", None),
        ("", None),
    ],
)
def test_target_from_resource_id(resource_id, expected):
    assert azure.target_from_resource_id(resource_id, "Standard_ND96asr_v4", True) == expected


@pytest.mark.parametrize(
    "cls",
    [azure.AzureReader, azure.AzureStop, azure.AzureStart, azure.AzureKeep],
    ids=lambda c: c.__name__,
)
def test_every_class_declares_permissions(cls):
    assert cls.cloud == "azure" and cls.permissions
    assert all(p.startswith("Microsoft.") and "*" not in p for p in cls.permissions)


@responses.activate
def test_a_failed_operation_is_a_failed_outcome():
    url = re.compile(re.escape(f"{ARM}{VM_ID}/deallocate") + r"\?.*")
    async_url = f"{OPERATIONS}/{OP_ID}?p=571046f6&api-version=2026-04-01"
    headers = {"Azure-AsyncOperation": async_url, "x-ms-request-id": OP_ID}
    responses.add(responses.POST, url, status=202, headers=headers)
    failed = {
        "startTime": "2026-11-22T18:00:00.1+00:00",
        "endTime": "2026-11-22T18:00:09.3+00:00",
        "status": "Failed",
        "name": OP_ID,
        "error": {
            "code": "InternalExecutionError",
            "message": "An internal execution error occurred.",
        },
    }
    responses.add(responses.GET, OP_URL, json=failed)
    outcome = azure.AzureStop(clients).run(TARGET, Observed(True, "running"), "p1-stop")
    assert not outcome.ok and outcome.request_id == OP_ID
    assert "deallocate/action failed" in outcome.error and "\n" not in outcome.error


def test_an_operation_still_running_reports_stopping(monkeypatch):
    monkeypatch.setattr(azure, "WAIT_S", 0.05)
    finish = threading.Event()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        url = re.compile(re.escape(f"{ARM}{VM_ID}/deallocate") + r"\?.*")
        async_url = f"{OPERATIONS}/{OP_ID}?p=571046f6&api-version=2026-04-01"
        headers = {"Azure-AsyncOperation": async_url, "x-ms-request-id": OP_ID}
        mock.add(responses.POST, url, status=202, headers=headers)

        def reply(request):
            time.sleep(0.01)
            state = "Succeeded" if finish.is_set() else "InProgress"
            return 200, {}, json.dumps({"status": state, "name": OP_ID})

        mock.add_callback(responses.GET, OP_URL, callback=reply)
        outcome = azure.AzureStop(clients).run(TARGET, Observed(True, "running"), "p1-stop")
        finish.set()  # the poller's thread ends on its next poll
        for _ in range(200):
            if not [t for t in threading.enumerate() if t.name.startswith("LROPoller")]:
                break
            time.sleep(0.01)
    assert outcome.ok and outcome.state == "stopping" and outcome.request_id == OP_ID
    assert "still at it" in outcome.detail


def test_no_credentials_says_az_login():
    from azure.core.exceptions import ClientAuthenticationError

    class NoCredential:
        def get_token(self, *a, **kw):
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

        get_token_info = get_token

    def no_login(service, target):
        return ComputeManagementClient(NoCredential(), target.account, polling_interval=0)

    with pytest.raises(ActionError, match="az login"):
        azure.AzureReader(no_login).read(TARGET)
