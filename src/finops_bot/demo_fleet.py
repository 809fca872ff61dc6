"""The demo's GPU fleet: an hour of heartbeats from a dozen nodes on the demo organisation's
own GPU instances, ending at the demo's pinned ``now`` (so `gpus`, `digest idle` and the GPU
answers, evaluated at that now, show every state): busy, idle, idle with memory held,
partly idle, stalled, and one silent node that stopped reporting 20 minutes ago."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlite_utils import Database

from finops_bot.gpu.heartbeat import store_batches, validate_batch

MINUTES = 60
DEMO_TOKEN = 0  # the demo's batches are not from an agent token

# (node, provider, instance type, region, gpus, project, owner, behaviour)
NODES = (
    ("i-0b3a1c2d4e5f60001", "aws", "p4d.24xlarge", "us-east-1", 8, "bert-training",
     "alice@acme.ai", "busy"),
    ("i-0b3a1c2d4e5f60002", "aws", "p4d.24xlarge", "us-east-1", 8, "bert-training",
     "alice@acme.ai", "idle"),
    ("i-0b3a1c2d4e5f60003", "aws", "p4d.24xlarge", "us-east-1", 8, "bert-training",
     "alice@acme.ai", "busy"),
    ("i-0c4b2d3e5f6a70001", "aws", "p5.48xlarge", "us-west-2", 8, "llm-finetune",
     "bob@acme.ai", "partly"),
    ("i-0c4b2d3e5f6a70002", "aws", "p5.48xlarge", "us-west-2", 8, "llm-finetune",
     "bob@acme.ai", "stalled"),
    ("i-0d5c3e4f6a7b80000", "aws", "g5.2xlarge", "us-east-1", 1, "notebooks",
     "heidi@acme.ai", "memory"),
    ("i-0d5c3e4f6a7b80001", "aws", "g5.2xlarge", "us-east-1", 1, "notebooks",
     "heidi@acme.ai", "busy"),
    ("i-0e6d4f5a7b8c90000", "aws", "g5.xlarge", "us-east-1", 1, "inference-api",
     "frank@acme.ai", "busy"),
    ("vision-a2-0", "gcp", "a2-highgpu-8g", "us-central1", 8, "vision-research",
     "carol@acme.ai", "idle"),
    ("recsys-g2-0", "gcp", "g2-standard-48", "us-east4", 4, "recsys", "dan@acme.ai", "busy"),
    ("asr-nd96-0", "azure", "Standard_ND96asr_v4", "eastus", 8, "speech-asr",
     "erin@acme.ai", "partly"),
    ("asr-nd96-spot-0", "azure", "Standard_ND96asr_v4", "eastus", 8, "speech-asr",
     "erin@acme.ai", "silent"),
)  # fmt: skip


CHECKPOINTED = {"i-0b3a1c2d4e5f60001", "recsys-g2-0"}  # busy jobs that write checkpoints
# labels.job: bert-training's three nodes are one data-parallel job (the busy two report the
# same global step, the idle one none); notebooks and inference carry no job
JOBS = {
    "bert-training": "bert-large-pretrain",
    "llm-finetune": "llama-70b-sft",
    "vision-research": "vit-h14",
    "recsys": "dlrm-train",
    "speech-asr": "conformer-xl",
}
ACCOUNTS = {
    "aws": "123456789012",
    "gcp": "acme-vision",
    "azure": "00000000-0000-4000-8000-00000000a5a1",
}


def place(provider: str, name: str) -> tuple[str, str]:
    """(account, region as remediation targets it: AWS region, GCP zone, Azure resource
    group) of a demo instance."""
    region = next(n[3] for n in NODES if n[0] == name)
    where = {"aws": region, "gcp": f"{region}-a", "azure": "rg-speech"}[provider]
    return ACCOUNTS[provider], where


def instance_id(provider: str, name: str) -> str:
    """What the agent reports: Azure's IMDS gives the VM's ARM resource id."""
    if provider != "azure":
        return name
    account, group = place(provider, name)
    return (f"/subscriptions/{account}/resourceGroups/{group}/providers/"
            f"Microsoft.Compute/virtualMachines/{name}")  # fmt: skip


def _gpus(behaviour: str, count: int, minute: int) -> list[dict]:
    out = []
    for i in range(count):
        if behaviour == "busy" or (behaviour == "partly" and i < count // 2):
            util, procs = 85.0 + (minute * 7 + i * 3) % 12, True
        elif behaviour == "stalled":
            util, procs = 0.0, True  # a process holds the GPUs; its step counter stopped
        elif behaviour == "memory":
            util, procs = 0.0, True
        else:
            util, procs = 0.0, False
        held = [{"pid": 4000 + i, "used_memory_mb": 30000}] if procs else []
        reading = {"min": util, "mean": util, "max": util}
        out.append({"index": i, "uuid": f"GPU-demo-{i}", "state": "ok", "util": reading,
                    "processes": held})  # fmt: skip
    return out


def _batch(node: tuple, minute: int, end: datetime) -> dict:
    name, provider, itype, region, count, project, owner, behaviour = node
    progress = None
    if behaviour in ("busy", "partly"):
        progress = 1000 + minute * 10
    elif behaviour == "stalled":
        progress = 1000 + min(minute, 20) * 10  # stopped 40 minutes ago
    return {
        "schema": "finops.heartbeat/v1",
        "batch_id": f"demo-{name}-{minute:03d}",
        "node": {
            "hostname": name,
            "provider": provider,
            "instance_id": instance_id(provider, name),
            "instance_type": itype,
            "region": region,
            "zone": f"{region}-a" if provider == "gcp" else None,
            "account": ACCOUNTS[provider],
            "spot": "spot" in name,
        },  # fmt: skip
        "labels": {
            "project": project,
            "owner": owner,
            "job": JOBS.get(project),
            "checkpoints": name in CHECKPOINTED or None,
        },
        "progress": progress,
        "window": {
            "start": (end - timedelta(minutes=1)).isoformat(),
            "end": end.isoformat(),
            "samples": 6,
        },  # fmt: skip
        "gpus": _gpus(behaviour, count, minute),
    }


def load_fleet(db: Database, now: datetime) -> int:
    """An hour of heartbeats ending at ``now`` (the silent node's end 20 minutes early);
    idempotent: a batch id stored before is a replay. → batches stored."""
    items = []
    for node in NODES:
        last = MINUTES - 20 if node[-1] == "silent" else MINUTES
        for minute in range(1, last + 1):
            end = now - timedelta(minutes=MINUTES - minute)
            items.append((DEMO_TOKEN, validate_batch(_batch(node, minute, end))))
    return sum(store_batches(db, items, now))
