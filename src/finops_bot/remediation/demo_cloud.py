"""The demo's cloud: the demo fleet's instances, in memory, behind the same reader and
action interface as the real clouds, with owner tags that match the demo's billing tags. So
the whole flow works offline: proposals on the idle nodes, the owner check from the tag,
the dry-run plan, and (with dry_run = false) a stop that changes the instance's state.
The bot uses it only for a cache the demo built (store.reads.demo_fleet_end)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from finops_bot.remediation.registry import (
    KEEP_TAG,
    Action,
    Observed,
    Outcome,
    Probe,
    Reader,
    Target,
)

DEMO_LAUNCHED = "2026-11-20T08:00:00+00:00"
DISKS = {"aws": ("gp3", 500.0), "gcp": ("pd-balanced", 500.0), "azure": ("Premium_LRS", 1024.0)}


@dataclass
class DemoInstance:
    target: Target
    state: str = "running"
    tags: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)  # what reached the "cloud", in order
    spot: bool | None = None  # None: as the target says

    def observed(self) -> Observed:
        kind, size = DISKS[self.target.cloud]
        return Observed(
            True,
            self.state,
            self.target.type,
            DEMO_LAUNCHED,
            dict(self.tags),
            disks_gb=((kind, size),),
            spot=self.target.spot if self.spot is None else self.spot,
        )


class DemoCloud:
    """The instances, by (cloud, id); every read, probe and call is recorded in ``calls``."""

    def __init__(self, instances: list[DemoInstance]):
        self.instances = {(i.target.cloud, i.target.id): i for i in instances}
        self.calls: list[tuple[str, str]] = []

    @classmethod
    def of_demo_fleet(cls) -> DemoCloud:
        from finops_bot.demo_fleet import NODES, place

        out = []
        for name, provider, itype, _region, _gpus, project, owner, _ in NODES:
            account, region = place(provider, name)
            target = Target(provider, account, region, name, itype, "spot" in name)
            out.append(DemoInstance(target, tags={"owner": owner, "project": project}))
        return cls(out)

    def find(self, target: Target) -> DemoInstance | None:
        return self.instances.get((target.cloud, target.id))

    def reader(self, cloud: str) -> Reader:
        return _DemoReader(self)

    def action(self, cloud: str, name: str) -> Action:
        return _DEMO_ACTIONS[name](self)


class _DemoReader(Reader):
    cloud = "demo"

    def __init__(self, cloud: DemoCloud):
        self.demo = cloud

    def read(self, target: Target) -> Observed:
        self.demo.calls.append(("read", target.id))
        found = self.demo.find(target)
        return found.observed() if found else Observed(False)


class _DemoAction(Action):
    cloud = "demo"
    to: str = ""

    def __init__(self, cloud: DemoCloud):
        self.demo = cloud

    def probe(self, target: Target, observed: Observed) -> Probe:
        self.demo.calls.append((f"probe {self.name}", target.id))
        return Probe(True, f"the demo cloud allows {self.name} (a dry run: nothing changed)")

    def run(self, target: Target, observed: Observed, request_id: str, **params: Any) -> Outcome:
        self.demo.calls.append((self.name, target.id))
        instance = self.demo.find(target)
        if instance is None:
            return Outcome(False, error=f"{target.id} is not in the demo cloud")
        self.apply(instance, params)
        return Outcome(
            True,
            request_id=f"demo-{request_id}",
            state=instance.state,
            detail=f"{self.name} done in the demo cloud",
        )

    def apply(self, instance: DemoInstance, params: dict) -> None:
        instance.state = self.to


class _DemoStop(_DemoAction):
    name, to = "stop", "stopped"

    def refusal(self, target: Target, observed: Observed) -> str | None:
        return None if observed.state == "running" else f"it is already {observed.state}"


class _DemoStart(_DemoAction):
    name, to = "start", "running"

    def refusal(self, target: Target, observed: Observed) -> str | None:
        return None if observed.state == "stopped" else f"it is {observed.state}, not stopped"


class _DemoKeep(_DemoAction):
    name = "keep"

    def apply(self, instance: DemoInstance, params: dict) -> None:
        instance.tags = {**instance.tags, KEEP_TAG: str(params["until"])}


class _DemoSpot(_DemoAction):
    """In place, as GCP does it (stop, Spot scheduling, start); the other clouds' Spot
    proposals are written plans, which never reach an action."""

    name = "spot"

    def refusal(self, target: Target, observed: Observed) -> str | None:
        return "it already runs as Spot" if observed.spot else None

    def apply(self, instance: DemoInstance, params: dict) -> None:
        instance.spot = True


_DEMO_ACTIONS = {"stop": _DemoStop, "start": _DemoStart, "keep": _DemoKeep, "spot": _DemoSpot}
