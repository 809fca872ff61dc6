"""The reads behind the cost of a training step (gpu.steps): the GPU nodes as the fleet
last saw them, their heartbeat minutes by day and label (job, project, owner), each job's
progress counter per minute, and the billed cost of the nodes' instances per day.

Minutes are read for each node's counting GPU only (the agent reports every GPU of a node
in each batch, so a node's GPU-minutes are that GPU's minutes × its GPUs, as
gpu_node_days counts them): a primary-key range per node. Billing is read from the fact
id blocks that meet the days (charge_blocks), filtered to the nodes' resource ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlite_utils import Database

from finops_bot.days import day_iso, day_number
from finops_bot.store.resources import resource_key
from finops_bot.store.tagsets import _ranges


@dataclass(frozen=True)
class NodeRow:
    """One node as gpu_latest holds it, with its counting GPU and its GPU count."""

    node: str
    gpu: str  # the counting GPU: seen last, lowest index (heartbeat._roll_up's)
    hostname: str
    provider: str | None
    instance_id: str | None
    instance_type: str | None
    spot: bool | None
    name: str | None  # the GPU model NVML reports
    region: str | None
    project: str | None
    owner: str | None
    job: str | None
    account: str | None
    gpus: int


_NODES = (
    "SELECT l.node, l.gpu, l.hostname, l.provider, l.instance_id, l.instance_type, l.spot, "
    "l.name, l.region, l.project, l.owner, l.job, l.account, "
    "(SELECT COUNT(*) FROM gpu_latest x WHERE x.node = l.node) "
    "FROM gpu_latest l WHERE l.gpu = (SELECT x.gpu FROM gpu_latest x WHERE x.node = l.node "
    "ORDER BY x.window_end DESC, x.gpu_index, x.gpu LIMIT 1) ORDER BY l.node"
)


def nodes(db: Database) -> list[NodeRow]:
    """Every node gpu_latest holds (one row each)."""
    out = []
    for row in db.execute(_NODES).fetchall():
        *head, spot, name, region, project, owner, job, account, gpus = row
        spot = None if spot is None else bool(spot)
        out.append(NodeRow(*head, spot, name, region, project, owner, job, account, gpus))
    return out


_MINUTES = (  # per [node, counting GPU]: its minutes in [?, ?) by day and label
    "SELECT m.node, substr(m.minute, 1, 10), COALESCE(m.job, ''), COALESCE(m.project, ''), "
    "COALESCE(m.owner, ''), COUNT(*), COUNT(m.progress) FROM json_each(?) j "
    "JOIN gpu_minutes m ON m.node = json_extract(j.value, '$[0]') "
    "AND m.gpu = json_extract(j.value, '$[1]') AND m.minute >= ? AND m.minute < ? "
    "GROUP BY 1, 2, 3, 4, 5"
)

MinuteRow = tuple[str, str, str, str, str, int, int]
# node, ISO day, job ('' none), project ('' none), owner ('' none), minutes, with progress


def node_minutes(
    db: Database, counting: list[tuple[str, str]], first: str, after: str
) -> list[MinuteRow]:
    """The minutes of each (node, counting GPU) in [first, after) (ISO minutes), per day,
    job, project and owner, and how many of them carry a progress counter."""
    if not counting:
        return []
    pairs = json.dumps([list(p) for p in counting])
    return [tuple(r) for r in db.execute(_MINUTES, (pairs, first, after))]


_PROGRESS = (  # per [node, counting GPU, job for its unlabelled minutes]: the highest
    # counter of each job and minute (a data-parallel job's nodes report the same step)
    "SELECT * FROM (SELECT COALESCE(NULLIF(m.job, ''), json_extract(j.value, '$[2]'), '') AS "
    "job, m.minute, MAX(m.progress) FROM json_each(?) j "
    "JOIN gpu_minutes m ON m.node = json_extract(j.value, '$[0]') "
    "AND m.gpu = json_extract(j.value, '$[1]') AND m.minute >= ? AND m.minute < ? "
    "AND m.progress IS NOT NULL GROUP BY 1, 2) WHERE job != '' ORDER BY 1, 2"
)


def job_progress(
    db: Database, counting: list[tuple[str, str, str | None]], first: str, after: str
) -> list[tuple[str, str, int]]:
    """(job, ISO minute, the highest progress its nodes reported that minute), in job and
    minute order, for the minutes in [first, after) of each (node, counting GPU, the job its
    unlabelled minutes count under, or None)."""
    if not counting:
        return []
    triples = json.dumps([list(t) for t in counting])
    return [tuple(r) for r in db.execute(_PROGRESS, (triples, first, after))]


def billing_ids(db: Database, names: list[str]) -> dict[str, str]:
    """Billing resource id → the node name (instance id or node key) it belongs to: the
    names themselves, and the full resource ids billing tags gave for their last path
    segment (resource_allocation: an ARN for an instance id)."""
    ids = {name: name for name in names if name}
    keys = {resource_key(name): name for name in names if name}
    if keys:
        rows = db.execute(
            "SELECT resource_key, resource_id FROM resource_allocation "
            "WHERE resource_key IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(keys)),),
        )
        for key, rid in rows:
            ids.setdefault(rid, keys[key])
    return ids


_BILLED = (
    "SELECT c.resource_id, c.day, k.currency, SUM(c.effective_cost) "
    "FROM charges c JOIN charge_keys k ON k.id = c.key_id "
    "WHERE c.id BETWEEN ? AND ? AND c.day BETWEEN ? AND ? "
    "AND c.resource_id IN (SELECT value FROM json_each(?)) GROUP BY 1, 2, 3"
)


def billed_costs(
    db: Database, resource_ids: list[str], first: date, last: date
) -> dict[tuple[str, str, str], float]:
    """(resource id, ISO day, currency) → the EffectiveCost billing holds for it, every
    charge category, over [first, last]; read from the fact blocks that meet those days."""
    if not resource_ids:
        return {}
    lo, hi = day_number(first), day_number(last)
    wanted = json.dumps(sorted(set(resource_ids)))
    out: dict[tuple[str, str, str], float] = {}
    for low, high in _ranges(db.conn, lo, hi):
        for rid, day, currency, effective in db.execute(_BILLED, (low, high, lo, hi, wanted)):
            key = (rid, day_iso(day), currency)
            out[key] = out.get(key, 0.0) + (effective or 0.0)
    return out


def last_heartbeat(db: Database) -> str | None:
    """When the latest heartbeat batch was received (ISO), or None."""
    row = db.execute("SELECT MAX(received_at) FROM heartbeat_batches").fetchone()
    return row[0] if row else None
