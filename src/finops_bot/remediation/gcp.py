"""GCP: Compute Engine instances behind the remediation registry. A target is ``account`` =
project id, ``region`` = zone, ``id`` = instance name; the client is ``self.clients(
"instances", target)``, a compute_v1.InstancesClient, sent plain-dict requests (no SDK type
is touched here; the SDK stays lazy). Writes send a ``requestId`` derived from the runner's
request id (uuid5: a retry is one operation on GCP's side) and wait for the zone operation.
google-api-core errors never leave raw: an ActionError (a read), ``Probe(False)`` (a probe)
or ``Outcome(ok=False)`` (a run), each one line that says what to do."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from finops_bot.adaptors import google_auth_exceptions, google_exceptions
from finops_bot.remediation.registry import (
    KEEP_TAG,
    Action,
    ActionError,
    Clients,
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

SEE = "see `python -m bot permissions --cloud gcp`"
GET = "compute.instances.get"
WAIT_S = 300.0  # how long a run waits for the zone operation before it reports "stopping"
REQUEST_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "finops-bot/remediation/gcp")
# GCE's status, where it is not ours in lower case (RUNNING, STOPPING, SUSPENDED, ...);
# TERMINATED is GCE's word for a stopped instance (its disks remain)
STATES = {"PROVISIONING": "pending", "STAGING": "pending", "TERMINATED": "stopped"}
LOCAL_SSD = (
    "it has local SSDs, whose data a stop discards (stop with --discard-local-ssd yourself "
    "if that is fine)"
)
MIG = "it belongs to managed instance group {}, which would recreate it; resize the group instead"


def request_uuid(request_id: str) -> str:
    """GCP's requestId for a runner request id: the same id gives the same UUID."""
    return str(uuid.uuid5(REQUEST_NAMESPACE, request_id))


def _where(target: Target) -> str:
    return f"instance {target.id} in {target.account}/{target.region}"


def _details(exc: Exception) -> tuple[set[str], str]:
    """The reasons of an API error and its message on one line, without the request's URL
    (an operation's error has its message in ``errors``, as protos; a REST error, dicts)."""
    first = re.sub(r"^[A-Z]+ https?://\S+: ", "", str(getattr(exc, "message", "") or ""))
    reasons, parts = set(), [first]
    for error in getattr(exc, "errors", None) or []:
        field = error.get if isinstance(error, dict) else lambda k, e=error: getattr(e, k, "")
        reasons.add(field("reason") or field("code") or "")
        if field("message") and field("message") not in first:
            parts.append(field("message"))
    return reasons, " ".join(" ".join(parts).split())


def _explain(exc: Exception, permission: str, target: Target) -> str | None:
    """One line for a google-api-core / google-auth / network error; None for others."""
    errors = google_exceptions
    where = _where(target)
    if isinstance(exc, errors.GoogleAPICallError):
        reasons, message = _details(exc)
        if "accessNotConfigured" in reasons or "has not been used" in message:
            return (
                f"the Compute Engine API is disabled in project {target.account}: enable it "
                "(gcloud services enable compute.googleapis.com)"
            )
        limited = reasons & {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
        if isinstance(exc, errors.Forbidden | errors.PermissionDenied) and not limited:
            return f"GCP denied {permission} on {where}: the role is missing {permission}; {SEE}"
        if isinstance(exc, errors.Unauthorized | errors.Unauthenticated):
            return "GCP rejected the credentials; run `gcloud auth application-default login`"
        return f"{permission} failed on {where}: {exc.code} {message}".rstrip()
    if isinstance(exc, google_auth_exceptions.GoogleAuthError):
        line = " ".join(str(exc).split())
        return (
            f"GCP credentials failed ({line}); set GOOGLE_APPLICATION_CREDENTIALS or run "
            "`gcloud auth application-default login`"
        )
    if isinstance(exc, errors.GoogleAPIError | OSError):
        return f"{permission} failed on {where}: {type(exc).__name__}: {exc}"
    return None


def _errors(permission: str, target: Target):
    """Turns the SDK's errors inside the block into one ActionError line."""
    return translating(_explain, permission, target)


def _where_args(target: Target) -> dict[str, str]:
    return {"project": target.account, "zone": target.region, "instance": target.id}


def _iso(stamp: str) -> str | None:
    """GCE's RFC 3339 timestamp (with an offset) as UTC ISO seconds."""
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC).isoformat(timespec="seconds")
    except ValueError:
        return stamp or None


def _group(inst: Any) -> str | None:
    """The managed instance group that created it (the ``created-by`` metadata item)."""
    for item in inst.metadata.items:
        if item.key == "created-by" and "instanceGroupManagers/" in item.value:
            return item.value.rstrip("/").rsplit("/", 1)[-1]
    return None


def _observed(inst: Any) -> Observed:
    """What the bot needs of a compute_v1.Instance."""
    group = _group(inst)
    blockers = [LOCAL_SSD] if any(d.type_ == "SCRATCH" for d in inst.disks) else []
    if group:
        blockers.append(MIG.format(group))
    scheduling = inst.scheduling
    return Observed(
        found=True,
        state=STATES.get(inst.status, inst.status.lower() or "unknown"),
        type=inst.machine_type.rsplit("/", 1)[-1] or None,
        launched=_iso(inst.last_start_timestamp or inst.creation_timestamp),
        tags=dict(inst.labels),
        blockers=tuple(blockers),
        group=group,
        # persistent disks keep billing when stopped; local SSDs (SCRATCH) do not survive it
        disks_gb=tuple(
            (d.type_.lower() or "persistent", float(d.disk_size_gb))
            for d in inst.disks
            if d.type_ != "SCRATCH"
        ),
        # An accessConfig's natIP is there for ephemeral and static addresses alike, and only
        # a static one bills while stopped: telling them apart needs compute.addresses.list,
        # which the bot does not call. Counted as 0.
        addresses=0,
        spot=scheduling.provisioning_model == "SPOT" or bool(scheduling.preemptible),
    )


@reader
class GcpReader(Reader):
    """A GCE instance: status, machine type, last start, labels, local SSDs, its managed
    instance group, the persistent disks that keep billing when it is stopped."""

    cloud = "gcp"
    permissions = (GET,)

    def read(self, target: Target) -> Observed:
        with _errors(GET, target):
            client = self.clients("instances", target)
            try:
                inst = client.get(request=_where_args(target))
            except google_exceptions.NotFound:
                return Observed(found=False)
        return _observed(inst)


def _probe(clients: Clients, target: Target, permissions: tuple[str, ...]) -> Probe:
    """testIamPermissions on the instance: allowed when GCP grants every permission."""
    request: dict[str, Any] = {
        "project": target.account,
        "zone": target.region,
        "resource": target.id,
    }
    request["test_permissions_request_resource"] = {"permissions": list(permissions)}
    try:
        with _errors("testIamPermissions", target):
            answer = clients("instances", target).test_iam_permissions(request=request)
    except ActionError as exc:
        return Probe(False, str(exc))
    missing = [p for p in permissions if p not in set(answer.permissions)]
    where = f"on {_where(target)} (testIamPermissions"
    if missing:
        return Probe(False, f"GCP would deny {', '.join(missing)} {where}); {SEE}")
    return Probe(True, f"{', '.join(permissions)} allowed {where}; nothing changed)")


def _operate(clients: Clients, target: Target, permission: str, method: str, **body: Any) -> bool:
    """Calls ``method`` with a request of ``body`` and waits for the zone operation: True
    when it is done, False when it is still running after WAIT_S. Errors: ActionError."""
    with _errors(permission, target):
        operation = getattr(clients("instances", target), method)(
            request={**_where_args(target), **body}
        )
        try:
            operation.result(timeout=WAIT_S)
        except TimeoutError:  # concurrent.futures.TimeoutError is TimeoutError
            return False
    return True


class _Power(PowerAction):
    """stop / start: one instances call, then the zone operation."""

    cloud = "gcp"
    method: ClassVar[str]

    def probe(self, target: Target, observed: Observed) -> Probe:
        return _probe(self.clients, target, self.permissions)

    def run(self, target: Target, observed: Observed, request_id: str, **params: Any) -> Outcome:
        refused = self.refusal(target, observed)
        if refused:
            return Outcome(False, error=refused)
        rid = request_uuid(request_id)
        state, doing, past = self.done
        try:
            finished = _operate(
                self.clients, target, self.permissions[0], self.method, request_id=rid
            )
        except ActionError as exc:
            return Outcome(False, rid, error=str(exc))
        if not finished:
            return Outcome(True, rid, doing, detail=f"GCP is still at it after {WAIT_S:.0f}s")
        return Outcome(True, rid, state, detail=past)


@action
class GcpStop(_Power):
    """instances.stop (the instance's persistent disks remain and keep billing)."""

    name, method = "stop", "stop"
    permissions = ("compute.instances.stop",)
    ready, not_ready = ("running", "pending"), "it is already {}"
    done = ("stopped", "stopping", "stopped")


@action
class GcpStart(_Power):
    """instances.start, for a stopped (TERMINATED) instance: the undo of a stop."""

    name, method = "start", "start"
    permissions = ("compute.instances.start",)
    ready, not_ready = ("stopped",), "it is {}, not stopped"
    done = ("running", "pending", "started")


@action
class GcpKeep(Action):
    """Writes the keep-until label (UTC epoch seconds: digits are a valid label value).
    setLabels replaces every label and needs the current labelFingerprint: a fresh get."""

    cloud = "gcp"
    name = "keep"
    permissions = ("compute.instances.setLabels", GET)

    def probe(self, target: Target, observed: Observed) -> Probe:
        return _probe(self.clients, target, self.permissions)

    def run(
        self, target: Target, observed: Observed, request_id: str, until: int, **params: Any
    ) -> Outcome:
        rid = request_uuid(request_id)
        try:
            with _errors(GET, target):
                inst = self.clients("instances", target).get(request=_where_args(target))
            labels = {**dict(inst.labels), KEEP_TAG: str(int(until))}
            resource = {"labels": labels, "label_fingerprint": inst.label_fingerprint}
            _operate(
                self.clients,
                target,
                self.permissions[0],
                "set_labels",
                request_id=rid,
                instances_set_labels_request_resource=resource,
            )
        except ActionError as exc:
            return Outcome(False, rid, error=str(exc))
        detail = f"labelled {KEEP_TAG}={int(until)}"
        return Outcome(True, rid, observed.state, detail=detail)
