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
"""

from __future__ import annotations

import argparse
import collections
import contextlib
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
    return {
        "provider": "aws",
        "instance_id": instance,
        "instance_type": get("instance-type"),
        "region": get("placement/region") or zone[:-1] or None,
        "zone": zone or None,
        "spot": lifecycle.strip() == "spot",
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
    return {
        "provider": "gcp",
        "instance_id": instance,
        "instance_type": machine or None,
        "region": zone.rsplit("-", 1)[0] if zone else None,
        "zone": zone or None,
        "spot": spot,
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
            body = json.dumps(self.queue[0]).encode()
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/json",
                    "User-Agent": f"finops-agent/{VERSION}",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    response.read()
            except urllib.error.HTTPError as exc:
                if exc.code in (400, 413):  # our batch is wrong: drop it, do not retry forever
                    sys.stderr.write(
                        f"finops-agent: batch refused ({exc.code}): "
                        f"{exc.read()[:300].decode('utf-8', 'replace')}\n"
                    )
                    self.queue.popleft()
                    continue
                if exc.code == 403:  # another token owns this node: say so once, wait 5 min
                    why = exc.read()[:400].decode("utf-8", "replace")
                    sys.stderr.write(f"finops-agent: the bot refused this node (403): {why}\n")
                    self.next_try = now + NOT_YOURS_WAIT_S
                    return sent
                if exc.code == 401:
                    sys.stderr.write(
                        "finops-agent: the bot refused the token (401); check --token-file\n"
                    )
                retry_after = (exc.headers or {}).get("Retry-After", "")  # 429, 503
                self._backoff(now, float(retry_after) if retry_after.isdigit() else 0.0)
                return sent
            except OSError:
                self._backoff(now)
                return sent
            self.queue.popleft()
            sent += 1
            self.failures = 0
        return sent

    def _backoff(self, now: float, at_least: float = 0.0) -> None:
        self.failures += 1
        delay = min(300.0, 5.0 * 2 ** min(self.failures, 6))
        delay *= random.uniform(0.5, 1.0)  # jitter: no thundering herd
        self.next_try = now + max(delay, min(at_least, 300.0))  # the bot's Retry-After


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


def main(argv: list[str] | None = None, env: dict | None = None) -> int:
    env = dict(os.environ if env is None else env)
    parser = argparse.ArgumentParser(prog="finops_agent.py", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="the bot's base URL, e.g. https://finops-bot.example.com")
    parser.add_argument("--token-file", help="file holding the agent token")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--batch-seconds", type=float, default=60.0, help="seconds per batch")
    parser.add_argument("--buffer", type=int, default=60, help="batches kept while offline")
    parser.add_argument("--once", action="store_true", help="one batch, then exit")
    parser.add_argument("--print", action="store_true", help="print batches instead of sending")
    args = parser.parse_args(argv)
    if not args.print and not (args.url and args.token_file):
        parser.error("--url and --token-file are needed unless --print")
    token = ""
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            sys.stderr.write(f"finops-agent: cannot read --token-file: {exc}\n")
            return 2
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
