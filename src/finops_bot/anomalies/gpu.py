"""Whether an anomaly's new spend is doing work or burning idle: the GPU nodes behind its
top resources (the heartbeats' instance ids joined to the billing resource ids), their
busy share of the heartbeat minutes over the episode, and their idle dollars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlite_utils import Database

from finops_bot.gpu.fleet import MINUTE, FleetRules, idle_cost
from finops_bot.gpu.prices import PriceBook
from finops_bot.store.resources import resource_key


def gpu_activity(
    db: Database,
    root_cause: list[dict],
    start: date,
    last: date,
    prices: PriceBook | None = None,
    rules: FleetRules | None = None,
) -> dict | None:
    """``{busy_share, idle_dollars, nodes}``, or None when no heartbeats match."""
    rules = rules or FleetRules()
    wanted = {resource_key(c["value"]) for c in root_cause if c["dimension"] == "resource"}
    if not wanted:
        return None
    nodes = set()
    for node, instance, hostname in db.execute(
        "SELECT DISTINCT node, instance_id, hostname FROM gpu_latest"
    ):
        if {resource_key(x) for x in (node, instance, hostname) if x} & wanted:
            nodes.add(node)
    if not nodes:
        return None
    begin = datetime.combine(start, time(0), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
    marks = ",".join("?" * len(nodes))
    total, busy = db.execute(
        f"SELECT COUNT(*), SUM(util_max >= ?) FROM gpu_minutes WHERE node IN ({marks}) "
        "AND minute >= ? AND minute < ?",
        (rules.idle_util, *sorted(nodes), begin.strftime(MINUTE), end.strftime(MINUTE)),
    ).fetchone()
    if not total:
        return None
    idle = idle_cost(db, begin, end, prices, rules, keep=lambda v: v.get("node") in nodes)
    return {
        "busy_share": round((busy or 0) / total, 4),
        "idle_dollars": round(sum(dollars for _, dollars, _ in idle), 2),
        "nodes": len(nodes),
        "gpu_minutes": total,
    }
