"""GCP: switch a Compute Engine VM to Spot in place: stop, instances.setScheduling (Spot,
termination action STOP, on-host maintenance TERMINATE, as a GPU VM needs, no automatic
restart), start. Each step is chosen from a fresh instances.get, never from memory, so a run
after a failure or a restart picks up after the last step that was done; each call carries a
requestId (uuid5 of the runner's request id and the step), so a retried step is one operation
on Google's side. Reuses gcp.py's error lines, operation wait and testIamPermissions probe."""

from __future__ import annotations

from typing import Any

from finops_bot.adaptors import google_exceptions
from finops_bot.remediation.gcp import (
    GET,
    _errors,
    _observed,
    _operate,
    _probe,
    _where_args,
    request_uuid,
)
from finops_bot.remediation.registry import (
    Action,
    ActionError,
    Observed,
    Outcome,
    Probe,
    Target,
    action,
)

STOP, SET, START = (
    "compute.instances.stop",
    "compute.instances.setScheduling",
    "compute.instances.start",
)
SPOT = {
    "provisioning_model": "SPOT",
    "instance_termination_action": "STOP",
    "on_host_maintenance": "TERMINATE",  # a GPU VM cannot live-migrate
    "automatic_restart": False,
}
KEPT = ("node_affinities", "min_node_cpus", "location_hint")  # not Spot's to change


def kept_scheduling(inst: Any) -> dict:
    """The VM's scheduling fields a switch to Spot must not drop (setScheduling replaces
    the whole block): sole-tenant node affinities, min node CPUs, the location hint."""
    scheduling = getattr(inst, "scheduling", None)
    if scheduling is None:
        return {}
    raw = type(scheduling).to_dict(scheduling, preserving_proto_field_name=True)
    return {k: raw[k] for k in KEPT if raw.get(k)}


PLAN = (
    "would stop, set Spot scheduling (termination action STOP, on-host maintenance "
    "TERMINATE), start"
)
# step -> (permission, instances method, what it did, in words)
STEPS = {
    "stop": (STOP, "stop", "stopped"),
    "setScheduling": (SET, "set_scheduling", "set to Spot (termination: STOP)"),
    "start": (START, "start", "started"),
}


class _Failed(Exception):
    """A step (or the read before it) failed: its name and the one-line reason."""

    def __init__(self, step: str, line: str):
        super().__init__(line)
        self.step, self.line = step, line


@action
class GcpSpot(Action):
    """Stop → setScheduling(SPOT, termination STOP) → start, resumable from a fresh get."""

    cloud = "gcp"
    name = "spot"
    permissions = (STOP, SET, START, GET)  # run reads the instance before each step

    def refusal(self, target: Target, observed: Observed) -> str | None:
        if not observed.found:
            return "the instance was not found"
        if observed.spot and observed.state == "running":  # stopped as Spot: resume (start)
            return "it already runs as Spot"
        if observed.blockers:
            return observed.blockers[0]
        if observed.state not in ("running", "stopped"):
            return f"it is {observed.state}"
        return None

    def probe(self, target: Target, observed: Observed) -> Probe:
        checked = _probe(self.clients, target, self.permissions)
        return Probe(checked.allowed, f"{PLAN}: {checked.detail}")

    def _read(self, target: Target) -> Observed:
        with _errors(GET, target):
            try:
                inst = self.clients("instances", target).get(request=_where_args(target))
            except google_exceptions.NotFound:
                return Observed(found=False)
        self._kept = kept_scheduling(inst)
        return _observed(inst)

    def _next(self, seen: Observed) -> str | None:
        """The step a fresh read calls for (None: done); a reason it cannot go on: _Failed."""
        if not seen.found:
            raise _Failed("get", "the instance was not found")
        if seen.blockers:
            raise _Failed("get", seen.blockers[0])
        step = {
            (False, "running"): "stop",
            (False, "stopped"): "setScheduling",
            (True, "stopped"): "start",
            (True, "running"): None,
        }
        if (bool(seen.spot), seen.state) not in step:
            raise _Failed("get", f"it is {seen.state}")
        return step[(bool(seen.spot), seen.state)]

    def run(self, target: Target, observed: Observed, request_id: str, **params: Any) -> Outcome:
        done: list[str] = []
        first: str | None = None
        state = observed.state
        try:
            while True:
                try:
                    seen = self._read(target)
                except ActionError as exc:
                    raise _Failed("get", str(exc)) from None
                state = seen.state if seen.found else "gone"
                step = self._next(seen)
                if step is None:
                    break
                if step in done:  # GCP still reports what the step was to change
                    raise _Failed(step, f"GCP still reports the instance {state}")
                if not done and step != "stop":
                    found = "already Spot" if seen.spot else "not yet Spot"
                    done.append(f"resumed (found it stopped, {found})")
                permission, method, _ = STEPS[step]
                rid = request_uuid(f"{request_id}/{step}")
                first = first or rid
                body: dict[str, Any] = {"request_id": rid}
                if step == "setScheduling":  # what else the VM had set stays set
                    body["scheduling_resource"] = {**getattr(self, "_kept", {}), **SPOT}
                try:
                    finished = _operate(self.clients, target, permission, method, **body)
                except ActionError as exc:
                    raise _Failed(step, str(exc)) from None
                if not finished:
                    raise _Failed(step, "GCP is still at it after waiting")
                done.append(step)
                if step == "start":
                    state = "running"
                    break
        except _Failed as failed:
            now = state if failed.step == "get" else self._state_now(target, state)
            error = f"{failed.step} failed: {failed.line}; the instance is {now}: "
            return Outcome(False, first, now, error=error + "run it again to resume")
        if first is None:
            return Outcome(True, None, state, detail="it already runs as Spot; nothing to do")
        detail = "; ".join(STEPS[s][2] if s in STEPS else s for s in done)
        return Outcome(True, first, state, detail=detail)

    def _state_now(self, target: Target, last: str) -> str:
        """The state after a failure, read again (the last one seen when the read fails)."""
        try:
            seen = self._read(target)
        except ActionError:
            return last
        return seen.state if seen.found else "gone"
