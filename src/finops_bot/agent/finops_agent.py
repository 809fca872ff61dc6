#!/usr/bin/env python3
"""finops-bot node agent: samples NVIDIA GPUs through NVML and posts heartbeat batches.

One file, Python standard library + nvidia-ml-py (import name ``pynvml``) only, so a node can
fetch it from the bot (GET /agent.py) and run it:

    python finops_agent.py --url https://finops-bot.example.com --token-file /etc/finops/token

It samples every 10 s (per GPU: utilisation, memory, power, temperature, processes) and sends
one batch a minute with min/mean/max per GPU. Identity comes from the hostname and the cloud
metadata service (AWS IMDSv2, GCE, Azure IMDS; sub-second timeouts, clean fallback off-cloud),
labels from FINOPS_PROJECT / FINOPS_OWNER / FINOPS_JOB, progress from FINOPS_PROGRESS_FILE
(a step counter a training loop writes) so a stalled job can be told from a finished one.

It never harms the node: batches wait in a bounded buffer when the bot is unreachable (oldest
dropped, counted), retries back off with jitter, and a GPU that errors is reported in an error
state instead of being dropped. No NVML (no driver) → one line on stderr and exit code 2.

No GPU at hand? ``--simulate idle|busy|stalled`` needs neither NVML nor nvidia-ml-py: it posts
back-dated one-minute batches for a fake 8-GPU node (hostname sim-<state>-<host>, instance
id sim-…, an aws p4d.24xlarge so it has a price) that show that state at once:

    python finops_agent.py --simulate idle --url http://localhost:3000 --token-file token
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import random
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid

SCHEMA = "finops.heartbeat/v1"
VERSION = "0.1.0"
METADATA_TIMEOUT = 0.3


# -- identity -------------------------------------------------------------------------------
def _http(
    url: str,
    method: str = "GET",
    headers: dict | None = None,
    timeout: float = METADATA_TIMEOUT,
    data: bytes | None = None,
) -> str | None:
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return None


def aws_identity(base: str) -> dict | None:
    token = _http(f"{base}/latest/api/token", "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    if not token:
        return None
    headers = {"X-aws-ec2-metadata-token": token}

    def get(path: str) -> str | None:
        return _http(f"{base}/latest/meta-data/{path}", headers=headers)

    instance = get("instance-id")
    if not instance:
        return None
    zone = get("placement/availability-zone") or ""
    lifecycle = get("instance-life-cycle") or "on-demand"
    document = _http(f"{base}/latest/dynamic/instance-identity/document", headers=headers)
    try:
        account = json.loads(document or "{}").get("accountId")
    except (ValueError, AttributeError):
        account = None
    return {
        "provider": "aws",
        "instance_id": instance,
        "instance_type": get("instance-type"),
        "region": get("placement/region") or zone[:-1] or None,
        "zone": zone or None,
        "spot": lifecycle.strip() == "spot",
        "account": account,
    }


def gcp_identity(base: str) -> dict | None:
    headers = {"Metadata-Flavor": "Google"}

    def get(path: str) -> str | None:
        return _http(f"{base}/computeMetadata/v1/instance/{path}", headers=headers)

    instance = get("id")
    if not instance:
        return None
    zone = (get("zone") or "").rsplit("/", 1)[-1]
    machine = (get("machine-type") or "").rsplit("/", 1)[-1]
    spot = (get("scheduling/provisioning-model") or "").upper() == "SPOT" or (
        get("scheduling/preemptible") or ""
    ).upper() == "TRUE"
    project = _http(f"{base}/computeMetadata/v1/project/project-id", headers=headers)
    return {
        "provider": "gcp",
        "instance_id": instance,
        "instance_type": machine or None,
        "region": zone.rsplit("-", 1)[0] if zone else None,
        "zone": zone or None,
        "spot": spot,
        "account": project or None,
    }


def azure_identity(base: str) -> dict | None:
    text = _http(f"{base}/metadata/instance?api-version=2021-02-01", headers={"Metadata": "true"})
    if not text:
        return None
    try:
        compute = json.loads(text)["compute"]
    except (ValueError, KeyError, TypeError):
        return None
    return {
        "provider": "azure",
        "instance_id": compute.get("resourceId") or compute.get("vmId"),
        "instance_type": compute.get("vmSize"),
        "region": compute.get("location"),
        "zone": compute.get("zone") or None,
        "spot": (compute.get("priority") or "").lower() == "spot",
        "account": compute.get("subscriptionId") or None,
    }


def identity(env: dict) -> dict:
    node = {
        "hostname": socket.gethostname(),
        "provider": None,
        "instance_id": None,
        "instance_type": None,
        "region": None,
        "zone": None,
        "spot": None,
    }
    probes = [
        (aws_identity, env.get("FINOPS_AGENT_AWS_IMDS", "http://169.254.169.254")),
        (gcp_identity, env.get("FINOPS_AGENT_GCE_METADATA", "http://metadata.google.internal")),
        (azure_identity, env.get("FINOPS_AGENT_AZURE_IMDS", "http://169.254.169.254")),
    ]
    if env.get("FINOPS_AGENT_NO_METADATA"):
        probes = []
    for probe, base in probes:
        found = probe(base.rstrip("/"))
        if found:
            node.update(found)
            break
    return node


def labels(env: dict) -> dict:
    return {
        k: env[f"FINOPS_{k.upper()}"]
        for k in ("project", "owner", "job")
        if env.get(f"FINOPS_{k.upper()}")
    }


def progress(env: dict) -> int | None:
    """The training loop's step counter: FINOPS_PROGRESS (a number) or FINOPS_PROGRESS_FILE."""
    value = env.get("FINOPS_PROGRESS")
    path = env.get("FINOPS_PROGRESS_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                value = fh.read().strip().split()[0]
        except (OSError, IndexError):
            return None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# -- sampling -------------------------------------------------------------------------------
class Sampler:
    """Reads every GPU once per call; accumulates min/mean/max until ``drain``."""

    def __init__(self, nvml):
        self.nvml = nvml
        self.count = nvml.nvmlDeviceGetCount()
        self.window: dict[int, dict] = {}
        self.samples = 0
        self.started = time.time()

    def _read(self, index: int) -> dict:
        n = self.nvml
        handle = n.nvmlDeviceGetHandleByIndex(index)
        uuid_ = n.nvmlDeviceGetUUID(handle)
        name = n.nvmlDeviceGetName(handle)
        util = n.nvmlDeviceGetUtilizationRates(handle).gpu
        memory = n.nvmlDeviceGetMemoryInfo(handle)
        try:
            power = n.nvmlDeviceGetPowerUsage(handle) / 1000.0
        except n.NVMLError:
            power = None
        try:
            temperature = n.nvmlDeviceGetTemperature(handle, n.NVML_TEMPERATURE_GPU)
        except n.NVMLError:
            temperature = None
        try:
            processes = [
                {"pid": p.pid, "used_memory_mb": round((p.usedGpuMemory or 0) / 2**20)}
                for p in n.nvmlDeviceGetComputeRunningProcesses(handle)
            ]
        except n.NVMLError:
            processes = []
        return {
            "uuid": _text(uuid_),
            "name": _text(name),
            "util": float(util),
            "mem_used_mb": memory.used / 2**20,
            "mem_total_mb": memory.total / 2**20,
            "power_w": power,
            "temp_c": temperature,
            "processes": processes,
        }

    def sample(self) -> None:
        self.samples += 1
        for index in range(self.count):
            slot = self.window.setdefault(index, {"index": index, "readings": [], "error": None})
            try:
                slot["readings"].append(self._read(index))
            except self.nvml.NVMLError as exc:  # reported in an error state, never dropped
                slot["error"] = str(exc) or exc.__class__.__name__

    def drain(self) -> tuple[list[dict], dict]:
        gpus = []
        for index in sorted(self.window):
            slot = self.window[index]
            readings = slot["readings"]
            gpu: dict = {"index": index, "state": "ok" if readings else "error"}
            if slot["error"]:
                gpu["error"] = slot["error"][:500]
                if readings:
                    gpu["state"] = "degraded"
            if readings:
                last = readings[-1]
                gpu.update(
                    uuid=last["uuid"],
                    name=last["name"],
                    mem_total_mb=round(last["mem_total_mb"]),
                    processes=last["processes"][:64],
                )
                for key in ("util", "mem_used_mb", "power_w", "temp_c"):
                    values = [r[key] for r in readings if r[key] is not None]
                    if values:
                        gpu[key] = {
                            "min": round(min(values), 2),
                            "mean": round(sum(values) / len(values), 2),
                            "max": round(max(values), 2),
                        }
            gpus.append(gpu)
        window = {"start": _iso(self.started), "end": _iso(time.time()), "samples": self.samples}
        self.window, self.samples, self.started = {}, 0, time.time()
        return gpus, window


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def batch(gpus: list[dict], window: dict, node: dict, env: dict, dropped: int) -> dict:
    return {
        "schema": SCHEMA,
        "batch_id": str(uuid.uuid4()),
        "sent_at": _iso(time.time()),
        "agent": {"version": VERSION, "dropped_batches": dropped},
        "node": node,
        "labels": labels(env),
        "progress": progress(env),
        "window": window,
        "gpus": gpus,
    }


# -- sending --------------------------------------------------------------------------------
NOT_YOURS_WAIT_S = 300.0


def post_batch(url: str, token: str, payload: dict, timeout: float = 5.0) -> tuple[int, str, str]:
    """POST one batch → (HTTP status, body, Retry-After); OSError when the bot is unreachable."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": f"finops-agent/{VERSION}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode("utf-8", "replace"), ""
    except urllib.error.HTTPError as exc:  # before OSError: it is one
        retry_after = (exc.headers or {}).get("Retry-After", "") or ""
        return exc.code, exc.read().decode("utf-8", "replace"), retry_after


class Sender:
    def __init__(self, url: str, token: str, buffer: int = 60, timeout: float = 5.0):
        self.url = url.rstrip("/") + "/v1/heartbeats"
        self.token = token
        self.queue: collections.deque = collections.deque(maxlen=buffer)
        self.dropped = 0
        self.timeout = timeout
        self.failures = 0
        self.next_try = 0.0

    def add(self, payload: dict) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1  # the oldest goes; the count travels with the next batch
        self.queue.append(payload)

    def flush(self, now: float) -> int:
        """Send what is queued, oldest first; stop at the first failure (backoff)."""
        sent = 0
        if now < self.next_try:
            return 0
        while self.queue:
            try:
                status, text, retry_after = post_batch(
                    self.url, self.token, self.queue[0], self.timeout
                )
            except OSError:
                self._backoff(now)
                return sent
            if status in (400, 413):  # our batch is wrong: drop it, do not retry forever
                sys.stderr.write(f"finops-agent: batch refused ({status}): {text[:300]}\n")
                self.queue.popleft()
                continue
            if status == 403:  # another token owns this node: say so once, wait 5 min
                sys.stderr.write(f"finops-agent: the bot refused this node (403): {text[:400]}\n")
                self.next_try = now + NOT_YOURS_WAIT_S
                return sent
            if status >= 400:
                if status == 401:
                    sys.stderr.write(
                        "finops-agent: the bot refused the token (401); check --token-file\n"
                    )
                self._backoff(now, float(retry_after) if retry_after.isdigit() else 0.0)
                return sent  # 429, 503: the bot's Retry-After
            self.queue.popleft()
            sent += 1
            self.failures = 0
        return sent

    def _backoff(self, now: float, at_least: float = 0.0) -> None:
        self.failures += 1
        delay = min(300.0, 5.0 * 2 ** min(self.failures, 6))
        delay *= random.uniform(0.5, 1.0)  # jitter: no thundering herd
        self.next_try = now + max(delay, min(at_least, 300.0))  # the bot's Retry-After


# -- simulate: --simulate idle|busy|stalled, no GPU and no NVML ----------------------------
SIM_GPUS = 8
SIM_MINUTES = 40  # the bot's default [fleet] idle_minutes and stall_minutes are 30
SIM_MAX_MINUTES = 23 * 60  # every window stays within the bot's max_batch_age_hours (24)
SIM_STEP = 184_000  # the stalled job's step counter: frozen, the same on every run
SIM_PROFILES = {  # util %, memory used MB, power W, temperature °C (processes: memory used)
    "idle": (0.0, 0.0, 56.0, 31.0),
    "busy": (93.0, 35_000.0, 390.0, 67.0),
    "stalled": (1.0, 35_000.0, 88.0, 39.0),
}


def sim_node(scenario: str) -> dict:
    """A stable fake 8-GPU p4d.24xlarge per machine and scenario. Marked "sim-" in front
    (`python -m bot gpus` shows 13 characters of a hostname) and by its instance id."""
    host = (socket.gethostname() or "localhost").split(".")[0] or "localhost"
    digest = hashlib.sha256(f"{host}/{scenario}".encode()).hexdigest()[:12]
    return {
        "hostname": f"sim-{scenario}-{host}"[:255],
        "provider": "aws",  # so the bundled price table knows it
        "instance_id": f"sim-{digest}",
        "instance_type": "p4d.24xlarge",
        "region": "us-east-1",
        "zone": "us-east-1a",
        "spot": False,
    }


def _spread(mean: float, jitter: float, low: float, high: float) -> dict:
    values = (mean - jitter, mean, mean + jitter)
    return dict(
        zip(("min", "mean", "max"), (round(min(max(v, low), high), 2) for v in values), strict=True)
    )


def sim_gpus(scenario: str, node: dict, rng: random.Random) -> list[dict]:
    util, memory, power, temp = SIM_PROFILES[scenario]
    gpus = []
    for i in range(SIM_GPUS):
        used = memory + rng.uniform(-200, 200) if memory else 0.0
        watts = power * rng.uniform(0.97, 1.03)
        gpus.append(
            {
                "index": i,
                "uuid": f"GPU-{uuid.uuid5(uuid.NAMESPACE_URL, node['instance_id'] + f'/{i}')}",
                "name": "NVIDIA A100-SXM4-40GB",
                "state": "ok",
                "util": _spread(util * rng.uniform(0.95, 1.03), min(util, 7.0), 0, 100),
                "mem_used_mb": _spread(used, 50.0 if used else 0.0, 0, 40960),
                "mem_total_mb": 40960,
                "power_w": _spread(watts, watts / 10, 0, 2000),
                "temp_c": _spread(temp + rng.uniform(-1, 1), 1.0, -20, 130),
                "processes": [{"pid": 4100 + i, "used_memory_mb": round(used)}] if used else [],
            }
        )
    return gpus


def sim_batch(scenario: str, node: dict, end: int, first: bool, env: dict) -> dict:
    """The one-minute window ending at ``end`` (epoch seconds). The batch_id and readings
    follow from the node and the minute, so a rerun replays the minutes it repeats."""
    minute = end // 60
    progress_ = {
        "idle": None,  # no job
        "busy": minute * 50,  # 50 steps a minute, advancing across runs
        "stalled": SIM_STEP - 100 if first else SIM_STEP,  # moved once, then stopped
    }[scenario]
    tags = {"project": "simulated", "job": f"simulate-{scenario}", **labels(env)}
    return {
        "schema": SCHEMA,
        "batch_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{node['instance_id']}/{minute}")),
        "sent_at": _iso(time.time()),
        "agent": {"version": f"{VERSION}+simulated", "dropped_batches": 0},
        "node": node,
        "labels": tags,
        "progress": progress_,
        "window": {"start": _iso(end - 60), "end": _iso(end), "samples": 6},
        "gpus": sim_gpus(scenario, node, random.Random(f"{node['instance_id']}/{minute}")),
    }


def sim_batches(scenario: str, minutes: int, now: int, env: dict) -> list[dict]:
    """``minutes`` back-dated one-minute windows, the last one ending ``now``: every window
    within the bot's max_batch_age_hours and none ahead of its clock (check_clock)."""
    node = sim_node(scenario)
    ends = [now - 60 * (minutes - 1 - j) for j in range(minutes)]
    return [sim_batch(scenario, node, end, j == 0, env) for j, end in enumerate(ends)]


def _sim_post(url: str, token: str, payload: dict, tally: dict) -> str | None:
    """Send one batch, waiting out 429/503; None, or why the run must stop."""
    for _ in range(10):
        try:
            status, text, retry_after = post_batch(url, token, payload)
        except OSError as exc:
            return f"cannot reach the bot at {url} ({exc})"
        if status not in (429, 503):
            break
        time.sleep(min(float(retry_after) if retry_after.isdigit() else 1.0, 30.0))
    if status == 200:
        try:
            stored = json.loads(text).get("stored", True)
        except (ValueError, AttributeError):
            stored = True
        tally["stored" if stored else "replayed"] += 1
    elif status in (400, 413):  # e.g. a window older than the bot's max_batch_age_hours
        tally["refused"] += 1
        tally["why"] = tally.get("why") or text[:300]
    else:
        return f"the bot answered {status}: {text[:300]}"
    return None


def _sim_shows(scenario: str, minutes: int) -> str:
    """What `python -m bot gpus` shows now. Idle holds for idle_minutes <= minutes; the
    counter last moved in the second window, so stalled holds for stall_minutes <= minutes-2."""
    return {
        "idle": f"idle, 8/8 GPUs idle (enough for [fleet] idle_minutes up to {minutes}), "
        "and `gpus --idle` lists it",
        "busy": "busy (high utilisation, a process, its progress advancing)",
        "stalled": "stalled (a process holds the GPUs; its progress counter has not moved for "
        f"{minutes - 2} min, enough for [fleet] stall_minutes up to {minutes - 2}), "
        "and `gpus --idle` lists it",
    }[scenario]


def simulate(args: argparse.Namespace, env: dict, token: str) -> int:
    """Post (or --print) back-dated batches that put a simulated node in a state now."""
    scenario, now = args.simulate, int(time.time())
    batches = sim_batches(scenario, args.minutes, now, env)
    node, tally = batches[0]["node"], {"stored": 0, "replayed": 0, "refused": 0}
    url = (args.url or "").rstrip("/") + "/v1/heartbeats"

    def emit(payload: dict) -> str | None:
        if args.print:
            print(json.dumps(payload, separators=(",", ":")), flush=True)
            return None
        return _sim_post(url, token, payload, tally)

    stop = None
    try:
        for payload in batches:
            stop = emit(payload)
            if stop:
                break
        end = now
        while args.follow and not stop:  # then one batch a minute, as the agent, until Ctrl-C
            end += 60
            time.sleep(max(0.0, end - time.time()))
            stop = emit(sim_batch(scenario, node, end, False, env))
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # --print | head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    head = f"finops-agent --simulate {scenario}"
    if stop:
        sys.stderr.write(f"{head}: {stop}\n")
        return 1
    what = (
        f"{len(batches)} one-minute batches ending now for {node['hostname']} "
        f"({node['instance_id']}: a simulated aws p4d.24xlarge, 8 GPUs)"
    )
    if args.print:
        sys.stderr.write(f"{head}: printed {what}\n")
        return 0
    sent = f"sent {what}: {tally['stored']} stored, {tally['replayed']} already stored"
    if tally["refused"]:
        refused = f"{tally['refused']} refused ({tally['why']})"
        sys.stderr.write(f"{head}: {sent}, {refused}; it may not show {scenario}\n")
        return 1
    later = "" if args.follow else "; silent 3 min after the last batch (--follow keeps it going)"
    shows = _sim_shows(scenario, args.minutes)
    print(f"{head}: {sent}. `python -m bot gpus` should now show it {shows}{later}.")
    return 0


# -- main -----------------------------------------------------------------------------------
def load_nvml():
    try:
        import pynvml  # nvidia-ml-py
    except ImportError:
        return None, "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return None, f"NVML is not available on this node ({exc}); is the NVIDIA driver loaded?"
    return pynvml, None


def _minutes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= SIM_MAX_MINUTES:
        raise argparse.ArgumentTypeError(f"give 1 to {SIM_MAX_MINUTES} minutes")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="finops_agent.py", description=__doc__.split("\n")[0])
    p.add_argument("--url", help="the bot's base URL, e.g. https://finops-bot.example.com")
    p.add_argument("--token-file", help="file holding the agent token")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--batch-seconds", type=float, default=60.0, help="seconds per batch")
    p.add_argument("--buffer", type=int, default=60, help="batches kept while offline")
    p.add_argument("--once", action="store_true", help="one batch, then exit")
    p.add_argument("--print", action="store_true", help="print batches instead of sending")
    sim = p.add_argument_group("simulate (no GPU, no NVML: try the bot from a laptop)")
    sim.add_argument(
        "--simulate",
        choices=SIM_PROFILES,
        help="post back-dated one-minute batches for a fake 8-GPU p4d.24xlarge that put it "
        "in this state at once (--print: JSON Lines on stdout)",
    )
    sim.add_argument(
        "--minutes",
        type=_minutes,
        default=SIM_MINUTES,
        help=f"--simulate: minutes of history to send (default {SIM_MINUTES}; the bot's "
        "idle_minutes and stall_minutes default to 30)",
    )
    sim.add_argument(
        "--follow", action="store_true", help="--simulate: then one batch a minute until Ctrl-C"
    )
    return p


def main(argv: list[str] | None = None, env: dict | None = None) -> int:
    env = dict(os.environ if env is None else env)
    cli = parser()
    args = cli.parse_args(argv)
    if not args.print and not (args.url and args.token_file):
        cli.error("--url and --token-file are needed unless --print")
    token = ""
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            sys.stderr.write(f"finops-agent: cannot read --token-file: {exc}\n")
            return 2
    if args.simulate:
        return simulate(args, env, token)
    nvml, problem = load_nvml()
    if nvml is None:
        sys.stderr.write(f"finops-agent: {problem}\n")
        return 2
    node = identity(env)
    sampler = Sampler(nvml)
    sender = None if args.print else Sender(args.url, token, args.buffer)
    per_batch = max(1, round(args.batch_seconds / args.interval))
    try:
        while True:
            for i in range(1 if args.once else per_batch):
                sampler.sample()
                if not args.once and i < per_batch - 1:
                    time.sleep(args.interval)
            gpus, window = sampler.drain()
            payload = batch(gpus, window, node, env, sender.dropped if sender else 0)
            if sender is None:
                print(json.dumps(payload, indent=2))
            else:
                sender.add(payload)
                sender.flush(time.time())
            if args.once:
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
    finally:
        with contextlib.suppress(Exception):  # shutting down anyway
            nvml.nvmlShutdown()


if __name__ == "__main__":
    sys.exit(main())
