"""The actions a proposal can take, one small class per (cloud, action), in a registry (the
pattern of Cloud Custodian's action registries).

Each class declares the cloud permissions it needs in one attribute, ``permissions``: the
least-privilege policies (`python -m bot permissions`) are built from them, and a test
fails if one declares none. An action never knows whether it runs for real: the runner
(remediation.runner) decides dry-run once, and calls ``probe`` (a permission check that
changes nothing: ``DryRun=True``, ``testIamPermissions``, a read) or ``run``.

Clients come from an injected factory, ``clients(service, target)`` → an SDK client, so
tests swap the factory and nothing here builds a client of its own (Custodian's
session_factory)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from finops_bot.errors import FinopsError

KEEP_TAG = "finops-bot-keep-until"  # UTC epoch seconds; valid as a tag or label everywhere
CLOUDS = ("aws", "gcp", "azure")
Clients = Callable[[str, "Target"], Any]


class ActionError(FinopsError):
    """A cloud call failed in a way a person can act on (the message says what to do)."""


@dataclass(frozen=True)
class Target:
    """The resource a proposal is about, as the cloud names it."""

    cloud: str  # aws | gcp | azure
    account: str  # AWS account, GCP project, Azure subscription
    region: str  # AWS region, GCP zone, Azure resource group (its location is in the id)
    id: str  # AWS instance id, GCP instance name, Azure VM name
    type: str | None = None
    spot: bool | None = None

    def to_dict(self) -> dict:
        return {
            "cloud": self.cloud,
            "account": self.account,
            "region": self.region,
            "id": self.id,
            "type": self.type,
            "spot": self.spot,
        }


@dataclass(frozen=True)
class Observed:
    """What the cloud says of the resource now (a read; allowed in dry-run)."""

    found: bool
    state: str = "unknown"  # running | stopped | stopping | pending | terminated | ...
    type: str | None = None
    launched: str | None = None  # ISO time the instance (re)started
    tags: dict[str, str] = field(default_factory=dict)
    blockers: tuple[str, ...] = ()  # why it cannot be stopped (instance-store root, ...)
    group: str | None = None  # the Auto Scaling group (or managed group) it belongs to
    disks_gb: tuple[tuple[str, float], ...] = ()  # (kind, GB) that keep billing when stopped
    addresses: int = 0  # static / elastic IPs that keep billing when stopped
    spot: bool | None = None

    def fingerprint(self) -> str:
        """State, type, launch time and tags (but our own keep-until tag): a change in any
        means the resource is not the one the proposal was made for."""
        tags = {k: v for k, v in sorted(self.tags.items()) if k != KEEP_TAG}
        raw = json.dumps([self.found, self.state, self.type, self.launched, tags])
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def summary(self) -> dict:
        return {
            "state": self.state,
            "type": self.type,
            "launched": self.launched,
            "tags": dict(sorted(self.tags.items())),
            "fingerprint": self.fingerprint(),
        }


@dataclass(frozen=True)
class Probe:
    """A permission check's result: would the call be allowed (nothing was changed)."""

    allowed: bool
    detail: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    request_id: str | None = None
    state: str | None = None  # the state the cloud reported after the call
    error: str | None = None
    detail: str = ""  # what was done, in words ("detached from ASG web; stopped")


class Reader:
    """Reads one resource: what the fingerprint, the owner check and the plan see."""

    cloud: ClassVar[str]
    permissions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, clients: Clients):
        self.clients = clients

    def read(self, target: Target) -> Observed:
        raise NotImplementedError


class Action:
    """One thing the bot may do to a resource. ``name``: stop | start | keep (the
    keep-until tag); ``params`` (keep: {"until": epoch seconds})."""

    cloud: ClassVar[str]
    name: ClassVar[str]
    permissions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, clients: Clients):
        self.clients = clients

    def refusal(self, target: Target, observed: Observed) -> str | None:
        """Why this action must not run on this resource (checked before probe and run)."""
        return None

    def probe(self, target: Target, observed: Observed) -> Probe:
        raise NotImplementedError

    def run(self, target: Target, observed: Observed, request_id: str, **params: Any) -> Outcome:
        raise NotImplementedError


class PowerAction(Action):
    """stop / start: refused when the resource is gone, (a stop) when something blocks it,
    and from a state it may not run from (``not_ready`` names the state in ``words``)."""

    ready: ClassVar[tuple[str, ...]] = ()  # the states it may run from
    not_ready: ClassVar[str] = "it is {}"
    missing: ClassVar[str] = "the instance was not found"
    words: ClassVar[dict[str, str]] = {}
    done: ClassVar[tuple[str, str, str]]  # the state when done, while not yet, in words

    def refusal(self, target: Target, observed: Observed) -> str | None:
        if not observed.found:
            return self.missing
        if observed.blockers and self.name == "stop":
            return observed.blockers[0]
        if observed.state in self.ready:
            return None
        return self.not_ready.format(self.words.get(observed.state, observed.state))


@contextmanager
def translating(
    explain: Callable[[Exception, str, Target], str | None], permission: str, target: Target
) -> Iterator[None]:
    """The SDK's errors inside the block as one ActionError line (``explain`` words them;
    None: not ours to word, re-raised)."""
    try:
        yield
    except ActionError:
        raise
    except Exception as exc:
        line = explain(exc, permission, target)
        if line is None:
            raise
        raise ActionError(line) from None


READERS: dict[str, type[Reader]] = {}
ACTIONS: dict[tuple[str, str], type[Action]] = {}


def reader(cls: type[Reader]) -> type[Reader]:
    """Class decorator: the cloud's reader."""
    READERS[cls.cloud] = cls
    return cls


def action(cls: type[Action]) -> type[Action]:
    """Class decorator: registers (cloud, name)."""
    ACTIONS[(cls.cloud, cls.name)] = cls
    return cls


def load_all() -> None:
    """Import the per-cloud modules so they register (their SDKs stay lazy)."""
    from finops_bot.remediation import aws, aws_spot, azure, gcp, gcp_spot  # noqa: F401


def declared(cloud: str | None = None) -> Iterable[type[Reader] | type[Action]]:
    """Every registered reader and action (of one cloud), readers first."""
    load_all()
    for c in (cloud,) if cloud else CLOUDS:
        if c in READERS:
            yield READERS[c]
        yield from (cls for (k, _), cls in sorted(ACTIONS.items()) if k == c)


class Clouds:
    """The readers and actions the runner uses, bound to client factories per cloud. The
    demo swaps in its in-memory cloud (remediation.demo_cloud) through the same interface."""

    def __init__(self, factories: dict[str, Clients]):
        load_all()
        self.factories = factories

    def _clients(self, cloud: str) -> Clients:
        if cloud not in self.factories:
            raise ActionError(f"no credentials are configured for {cloud}; see README Remediation")
        return self.factories[cloud]

    def reader(self, cloud: str) -> Reader:
        if cloud not in READERS:
            raise ActionError(f"finops-bot cannot read {cloud} instances")
        return READERS[cloud](self._clients(cloud))

    def action(self, cloud: str, name: str) -> Action:
        if (cloud, name) not in ACTIONS:
            raise ActionError(f"finops-bot cannot {name} {cloud} instances")
        return ACTIONS[(cloud, name)](self._clients(cloud))
