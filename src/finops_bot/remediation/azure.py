"""Azure: virtual machines behind the remediation registry.

A target names a VM as ARM does: ``account`` is the subscription id, ``region`` the
resource group, ``id`` the VM name (``target_from_resource_id`` parses an ARM id). The
client is ``self.clients("compute", target)``, a ``ComputeManagementClient``; its long-running
operations poll at the client's ``polling_interval``.

A stop is always a deallocate, never a power off: a powered-off VM keeps billing for its
compute ("stopped-billing" here), a deallocated one does not. The keep-until tag is merged
through the Tags API (Microsoft.Resources/tags/write: no write access to the VM itself).
Azure has no dry-run, so a probe says what the read proved and nothing more. azure-core
errors never leave this module raw: an ActionError (a read) or ``Outcome(ok=False)`` (a run)."""

from __future__ import annotations

from datetime import UTC
from typing import Any, ClassVar
from urllib.parse import quote

from finops_bot.adaptors import azure_exceptions, azure_rest
from finops_bot.remediation.registry import (
    KEEP_TAG,
    Action,
    ActionError,
    Observed,
    Outcome,
    PowerAction,
    Probe,
    Reader,
    Target,
    action,
    reader,
    translating,
)

SEE = "see `python -m bot permissions --cloud azure`"
READ = "Microsoft.Compute/virtualMachines/read"
TAGS_API = "2021-04-01"  # learn.microsoft.com/rest/api/resources/tags/update-at-scope
WAIT_S = 600.0  # how long a run waits for the operation before it reports "stopping"
POWER = {
    "running": "running",
    "starting": "pending",
    "deallocating": "stopping",
    "deallocated": "stopped",
    "stopping": "stopping",  # a power off in progress: it will keep billing
    "stopped": "stopped-billing",  # powered off, not deallocated: compute still bills
}
WORDS = {"stopped": "deallocated", "stopped-billing": "powered off (still billing compute)"}
EPHEMERAL = "its OS disk is ephemeral (Azure cannot deallocate such VMs; delete it or let it run)"
ROLE_ERRORS = (None, "AuthorizationFailed", "LinkedAuthorizationFailed")  # not a policy's deny
ARM_PATH = ("subscriptions", "resourcegroups", "providers", "microsoft.compute", "virtualmachines")


def target_from_resource_id(
    resource_id: str, vm_type: str | None = None, spot: bool | None = None
) -> Target | None:
    """/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/
    {name} → Target; None when it is not a VM's ARM id."""
    parts = (resource_id or "").strip().strip("/").split("/")
    if len(parts) != 8 or not all(parts):
        return None
    if tuple(parts[i].lower() for i in (0, 2, 4, 5, 6)) != ARM_PATH:
        return None
    return Target("azure", parts[1], parts[3], parts[7], vm_type, spot)


def _where(target: Target) -> str:
    return f"VM {target.id} in {target.region} (subscription {target.account})"


def _line(exc: Exception) -> str:
    """An azure-core error's code and message on one line."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or getattr(exc, "reason", None) or str(exc)
    return " ".join(f"{code + ': ' if code else ''}{message}".split())


def _explain(exc: Exception, permission: str, target: Target) -> str | None:
    """One line for an azure-core error, saying what to do; None for anything else."""
    errors = azure_exceptions
    if not isinstance(exc, errors.AzureError):
        return None
    status = getattr(exc, "status_code", None)
    if isinstance(exc, errors.ClientAuthenticationError) and status in (None, 401):
        return (
            f"Azure rejected the credentials ({_line(exc)}); run `az login` or set "
            "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET"
        )
    code = getattr(getattr(exc, "error", None), "code", None)
    if status == 403 and code in ROLE_ERRORS:
        return (
            f"Azure denied {permission} on {_where(target)} ({code or 403}): the role is "
            f"missing {permission}; {SEE}"
        )
    return f"{permission} failed on {_where(target)}: {_line(exc)}"


def _errors(permission: str, target: Target):
    """Turns the SDK's errors inside the block into one ActionError line."""
    return translating(_explain, permission, target)


def _iso(when: Any) -> str | None:
    return when.astimezone(UTC).isoformat(timespec="seconds") if when else None


def _kind(disk: Any) -> str:
    managed = disk.managed_disk
    return (managed.storage_account_type if managed else None) or "unmanaged"


def _observed(vm: Any) -> Observed:
    """What the bot needs of a VirtualMachine read with its instance view."""
    statuses = (vm.instance_view.statuses if vm.instance_view else None) or []
    power = next((s.code for s in statuses if (s.code or "").startswith("PowerState/")), "")
    storage = vm.storage_profile
    os_disk = storage.os_disk if storage else None
    ephemeral = bool(os_disk and os_disk.diff_disk_settings)  # option "Local": on the host
    disks = [] if ephemeral or not os_disk else [os_disk]
    disks += (storage.data_disks if storage else None) or []
    scale_set = vm.virtual_machine_scale_set.id if vm.virtual_machine_scale_set else None
    group = scale_set.rstrip("/").rsplit("/", 1)[-1] if scale_set else None
    blockers = [EPHEMERAL] if ephemeral else []
    if group:
        blockers.append(f"it belongs to scale set {group}; scale the set instead")
    return Observed(
        found=True,
        state=POWER.get(power.split("/", 1)[-1], "unknown"),
        type=vm.hardware_profile.vm_size if vm.hardware_profile else None,
        launched=_iso(vm.time_created),
        tags=dict(vm.tags or {}),
        blockers=tuple(blockers),
        group=group,
        disks_gb=tuple((_kind(d), float(d.disk_size_gb)) for d in disks if d.disk_size_gb),
        # Public IPs are Microsoft.Network resources the bot does not read (a Standard static
        # one keeps billing while deallocated): counted as 0.
        addresses=0,
        spot=(vm.priority or "") == "Spot",
    )


@reader
class AzureReader(Reader):
    """A VM with its instance view: power state, size, creation time, tags, disks."""

    cloud = "azure"
    permissions = (READ,)

    def read(self, target: Target) -> Observed:
        with _errors(READ, target):
            client = self.clients("compute", target)
            try:
                vm = client.virtual_machines.get(target.region, target.id, expand="instanceView")
            except azure_exceptions.ResourceNotFoundError:
                return Observed(found=False)
        return _observed(vm)


def _read_probe(target: Target, permission: str, what: str) -> Probe:
    return Probe(
        True,
        f"read allowed; Azure has no dry-run for {what}: {permission} is checked at the "
        f"first real call on {_where(target)}",
    )


class _Power(PowerAction):
    """deallocate / start: a long-running operation, waited for."""

    cloud = "azure"
    method: ClassVar[str]
    missing = "the VM was not found"
    words = WORDS

    def probe(self, target: Target, observed: Observed) -> Probe:
        return _read_probe(target, self.permissions[0], self.method.removeprefix("begin_"))

    def run(self, target: Target, observed: Observed, request_id: str, **params: Any) -> Outcome:
        refused = self.refusal(target, observed)
        if refused:
            return Outcome(False, error=refused)
        seen: list[str] = []

        def hook(response: Any) -> None:  # the first response is the operation's request
            if not seen and response.http_response.headers.get("x-ms-request-id"):
                seen.append(response.http_response.headers["x-ms-request-id"])

        state, doing, past = self.done
        try:
            with _errors(self.permissions[0], target):
                ops = self.clients("compute", target).virtual_machines
                poller = getattr(ops, self.method)(target.region, target.id, raw_response_hook=hook)
                poller.result(timeout=WAIT_S)
                finished = poller.done()
        except ActionError as exc:
            return Outcome(False, seen[0] if seen else None, error=str(exc))
        rid = seen[0] if seen else None
        if not finished:
            return Outcome(True, rid, doing, detail=f"Azure is still at it after {WAIT_S:.0f}s")
        return Outcome(True, rid, state, detail=past)


@action
class AzureStop(_Power):
    """Deallocate, never power off: a powered-off VM keeps billing for its compute, so
    "stopped-billing" (powered off) is a state to deallocate from, like running."""

    name, method = "stop", "begin_deallocate"
    permissions = ("Microsoft.Compute/virtualMachines/deallocate/action",)
    ready, not_ready = ("running", "pending", "stopped-billing"), "it is already {}"
    done = ("stopped", "stopping", "deallocated")


@action
class AzureStart(_Power):
    """Start a deallocated (or powered-off) VM: the undo of a stop."""

    name, method = "start", "begin_start"
    permissions = ("Microsoft.Compute/virtualMachines/start/action",)
    ready, not_ready = ("stopped", "stopped-billing"), "it is {}, not stopped"
    done = ("running", "pending", "started")


@action
class AzureKeep(Action):
    """Merges the keep-until tag (UTC epoch seconds) into the VM's tags: the Tags API's
    Merge leaves the other tags as they are and needs no write access to the VM."""

    cloud = "azure"
    name = "keep"
    permissions = ("Microsoft.Resources/tags/write",)

    def probe(self, target: Target, observed: Observed) -> Probe:
        return _read_probe(target, self.permissions[0], "tag writes")

    def run(
        self, target: Target, observed: Observed, request_id: str, until: int, **params: Any
    ) -> Outcome:
        sub, rg, name = (quote(p, safe="") for p in (target.account, target.region, target.id))
        url = (
            f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/"
            f"virtualMachines/{name}/providers/Microsoft.Resources/tags/default"
            f"?api-version={TAGS_API}"
        )
        body = {"operation": "Merge", "properties": {"tags": {KEEP_TAG: str(int(until))}}}
        try:
            with _errors(self.permissions[0], target):
                client = self.clients("compute", target)
                response = client.send_request(azure_rest.HttpRequest("PATCH", url, json=body))
                response.raise_for_status()
        except ActionError as exc:
            return Outcome(False, error=str(exc))
        rid = response.headers.get("x-ms-request-id")
        return Outcome(True, rid, observed.state, detail=f"tagged {KEEP_TAG}={int(until)}")
