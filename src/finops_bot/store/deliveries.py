"""File deliveries: which earlier imports a new one replaces, merges with or collides with.

A delivery is the files of one ``import`` command (or of one export manifest). Each load
records its partitions: (cloud, BillingAccountId, BillingPeriodStart, scope). A delivery
replaces what earlier *file* deliveries held in the same partitions, so the same charges in
other bytes (a CSV and its gzip, CSV and Parquet of one export) never double. ``scope`` is
the subscription for Azure cost-details exports (they are made per scope), the file itself
for rows that name neither provider nor billing account, and '' otherwise; '' matches any.
Azure actual and amortised exports of one billing account and month (whatever their
subscriptions) are merged, not replaced: BilledCost from the actual export, EffectiveCost
(and nothing else) from the amortised one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from finops_bot.providers import cloud_of
from finops_bot.store import extras
from finops_bot.store.rollups import delete_load, drop_orphans, rebuild_load


@dataclass(frozen=True)
class Partition:
    cloud: str
    account: str
    period: str
    scope: str = ""

    def covers(self, other: Partition) -> bool:
        return (self.cloud, self.account, self.period) == (
            other.cloud,
            other.account,
            other.period,
        ) and (self.scope == other.scope or not self.scope or not other.scope)


def partition_of(
    provider: str, account: str, period: str, sub_account: str, *, scoped: bool, path: str
) -> Partition:
    cloud = cloud_of(provider)
    if not cloud and not account:  # nothing says whose bill it is: the file is the scope
        return Partition("", "", period, f"file:{path}")
    return Partition(cloud, account, period, sub_account if scoped else "")


@dataclass
class Replaced:
    rows: int = 0
    sources: list[str] = field(default_factory=list)
    merged_with: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Load:
    id: int
    source: str
    path: str | None
    first: int | None
    last: int | None
    cost_type: str | None


def record(conn: sqlite3.Connection, load_id: int, partitions: Iterable[Partition]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO load_partitions VALUES (?,?,?,?,?)",
        [(load_id, p.cloud, p.account, p.period, p.scope) for p in partitions],
    )


def _file_loads(
    conn: sqlite3.Connection, partitions: set[Partition], exclude: int, any_scope: bool = False
) -> dict:
    """Earlier file loads holding any of ``partitions`` → (load, their matching partitions).
    ``any_scope``: match on cloud, account and period alone."""
    found: dict[int, tuple[_Load, set[Partition]]] = {}
    for p in partitions:
        for row in conn.execute(
            "SELECT l.id, l.source, l.path, l.first_rowid, l.last_rowid, l.cost_type, "
            "l.delivery, lp.scope FROM load_partitions lp JOIN loads l ON l.id = lp.load_id "
            "WHERE lp.cloud = ? AND lp.billing_account_id = ? AND lp.billing_period_start = ? "
            "AND l.kind = 'file' AND l.id != ?",
            (p.cloud, p.account, p.period, exclude),
        ):
            theirs = Partition(p.cloud, p.account, p.period, row[7])
            if not (any_scope or p.covers(theirs)):
                continue
            load = _Load(*row[:6])
            found.setdefault(load.id, (load, set(), row[6]))[1].add(theirs)
    return found


def _load_keys(
    conn: sqlite3.Connection, load: _Load, wanted: set[Partition]
) -> tuple[list[int], set[str]]:
    """The load's key ids in ``wanted`` partitions, and their sub accounts."""
    keys, subs = [], set()
    for key_id, provider, account, period, sub in conn.execute(
        "SELECT DISTINCT k.id, k.provider, k.billing_account_id, k.billing_period_start, "
        "k.sub_account_id FROM daily_keys d JOIN charge_keys k ON k.id = d.key_id "
        "WHERE d.load_id = ?",
        (load.id,),
    ):
        p = partition_of(
            provider, account, period, sub, scoped=load.cost_type is not None, path=load.path or ""
        )
        if any(w.covers(p) for w in wanted):
            keys.append(key_id)
            subs.add(sub)
    return keys, subs


def _delete_keys(conn: sqlite3.Connection, load: _Load, keys: list[int]) -> int:
    deleted = 0
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        marks = ",".join("?" * len(part))
        deleted += conn.execute(
            f"DELETE FROM charges WHERE id BETWEEN ? AND ? AND key_id IN ({marks})",
            (load.first, load.last, *part),
        ).rowcount
    if deleted and load.first is not None:
        drop_orphans(conn, load.first, load.last)
    return deleted


def replace_earlier(
    conn: sqlite3.Connection,
    load_id: int,
    delivery: str,
    partitions: set[Partition],
    cost_type: str | None,
    sub_accounts: set[str],
) -> Replaced:
    """Remove what earlier file deliveries held in ``partitions``; merge Azure counterparts."""
    out = Replaced()
    for load, theirs, their_delivery in _file_loads(conn, partitions, load_id).values():
        if cost_type and load.cost_type and cost_type != load.cost_type:
            continue  # the other Azure cost type: merged below, not replaced
        if their_delivery == delivery:
            continue  # parts of one delivery (a multi-part export) are kept together
        all_theirs = {
            Partition(*row)
            for row in conn.execute(
                "SELECT cloud, billing_account_id, billing_period_start, scope "
                "FROM load_partitions WHERE load_id = ?",
                (load.id,),
            )
        }
        keys, subs = _load_keys(conn, load, theirs)
        lacking = sorted(s for s in subs - sub_accounts if s)
        if lacking and cost_type is None:
            out.warnings.append(
                f"the earlier import {load.path or load.source} also held sub account(s) "
                f"{', '.join(lacking[:5])} for the same billing period, which this delivery "
                "lacks: they were replaced too (import every scope of a month together)"
            )
        if theirs >= all_theirs:
            out.rows += delete_load(conn, load.id)
        else:
            deleted = _delete_keys(conn, load, keys)
            out.rows += deleted
            conn.execute("UPDATE loads SET rows = rows - ? WHERE id = ?", (deleted, load.id))
            conn.executemany(
                "DELETE FROM load_partitions WHERE load_id = ? AND cloud = ? AND "
                "billing_account_id = ? AND billing_period_start = ? AND scope = ?",
                [(load.id, p.cloud, p.account, p.period, p.scope) for p in theirs],
            )
            rebuild_load(conn, load.id, load.first, load.last, keys)
        if load.source not in out.sources:
            out.sources.append(load.source)
    return out


def merge_azure(
    conn: sqlite3.Connection,
    load: int,
    first: int,
    last: int,
    partitions: set[Partition],
    kind: str,
) -> list[str]:
    """Merge an Azure ``kind`` ('actual' or 'amortized') export with the other cost type's
    exports of the same partitions: each side keeps only its own measure. → their paths."""
    other = "amortized" if kind == "actual" else "actual"
    this = _Load(load, "", None, first, last, kind)
    merged = []
    for partner, theirs, _ in _file_loads(conn, partitions, load, any_scope=True).values():
        if partner.cost_type != other:
            continue
        partner_keys, _ = _load_keys(conn, partner, theirs)
        _keep_only(conn, partner, partner_keys)
        rebuild_load(conn, partner.id, partner.first, partner.last, partner_keys)
        mine = {p for p in partitions if any(_same_month(p, t) for t in theirs)}
        own_keys, _ = _load_keys(conn, this, mine)
        _keep_only(conn, this, own_keys)
        rebuild_load(conn, load, first, last, own_keys)
        merged.append(partner.path or partner.source)
    return merged


def _same_month(a: Partition, b: Partition) -> bool:
    return (a.cloud, a.account, a.period) == (b.cloud, b.account, b.period)


def _keep_only(conn: sqlite3.Connection, load: _Load, keys: list[int]) -> None:
    assignments = (
        "effective_cost = 0"
        if load.cost_type == "actual"
        else "billed_cost = 0, list_cost = NULL, consumed_quantity = NULL, pricing_quantity = NULL"
    )
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        marks = ",".join("?" * len(part))
        conn.execute(
            f"UPDATE charges SET {assignments} WHERE id BETWEEN ? AND ? AND key_id IN ({marks})",
            (load.first, load.last, *part),
        )
        extras.merged_side(conn, load.first, load.last, marks, part, load.cost_type)
        if load.cost_type != "actual":  # GPU-hours and hourly usage: the actual export's
            conn.execute(
                f"DELETE FROM instance_hours WHERE load_id = ? AND key_id IN ({marks})",
                (load.id, *part),
            )
            conn.execute(
                "DELETE FROM charge_gpu WHERE id BETWEEN ? AND ? AND (SELECT key_id FROM "
                f"charges c WHERE c.id = charge_gpu.id) IN ({marks})",
                (load.first, load.last, *part),
            )


def sync_overlap(
    conn: sqlite3.Connection, partitions: set[Partition], first_day: int, last_day: int
) -> list[str]:
    """Configured sync sources whose data overlaps the delivery: same cloud, overlapping
    days, and the same billing account where both name one."""
    clouds = {p.cloud for p in partitions if p.cloud}
    accounts = {(p.cloud, p.account) for p in partitions}
    found: list[str] = []
    candidates = conn.execute(
        "SELECT DISTINCT c.key, l.source, l.id FROM cube c JOIN loads l ON l.id = c.load_id "
        "WHERE c.dim = 'provider' AND c.day BETWEEN ? AND ? AND l.kind NOT IN ('file', 'demo')",
        (first_day, last_day),
    ).fetchall()
    for provider, source, load_id in candidates:
        cloud = cloud_of(provider)
        if cloud not in clouds or source in found:
            continue
        theirs = {
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT k.billing_account_id FROM daily_keys d "
                "JOIN charge_keys k ON k.id = d.key_id WHERE d.load_id = ? AND k.provider = ?",
                (load_id, provider),
            )
        }
        mine = {a for c, a in accounts if c == cloud}
        if "" in theirs or "" in mine or theirs & mine:
            found.append(source)
    return found


def file_overlap(
    conn: sqlite3.Connection, load_id: int, first_day: int, last_day: int
) -> list[str]:
    """File imports (not --append) whose charges meet this sync load's: same cloud,
    overlapping days, and the same billing account where both name one."""
    mine: dict[str, set[str]] = {}
    for provider, account in conn.execute(
        "SELECT DISTINCT k.provider, k.billing_account_id FROM daily_keys d "
        "JOIN charge_keys k ON k.id = d.key_id WHERE d.load_id = ?",
        (load_id,),
    ):
        mine.setdefault(cloud_of(provider), set()).add(account)
    found: list[str] = []
    for other, path, provider in conn.execute(
        "SELECT DISTINCT l.id, COALESCE(l.path, l.source), c.key FROM cube c "
        "JOIN loads l ON l.id = c.load_id WHERE c.dim = 'provider' AND c.day BETWEEN ? AND ? "
        "AND l.kind = 'file' AND l.append = 0 AND l.id != ?",
        (first_day, last_day, load_id),
    ).fetchall():
        cloud = cloud_of(provider)
        if cloud not in mine or path in found:
            continue
        theirs = {
            row[0]
            for row in conn.execute(
                "SELECT billing_account_id FROM load_partitions WHERE load_id = ? AND cloud = ?",
                (other, cloud),
            )
        }
        if "" in theirs or "" in mine[cloud] or theirs & mine[cloud]:
            found.append(path)
    return found
