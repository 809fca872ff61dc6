"""Remediation proposals and their audit trail.

A proposal moves only by conditional updates (``… WHERE id = ? AND state = ?``): two clicks,
two approvers or two processes race on one row and exactly one wins; the loser reads who
won. One proposal is open per resource and action (a partial unique index), so two sweeps
propose once. The audit table is append-only (triggers refuse UPDATE and DELETE): every
transition and every click, with the Slack user id and email."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlite_utils import Database

from finops_bot.store.db import begin_write

OPEN = ("proposed", "approved", "executing", "planned")
STATES = (*OPEN, "succeeded", "failed", "expired", "snoozed", "superseded", "restarted")
_COLUMNS = (
    "id",
    "cloud",
    "account",
    "region",
    "resource_id",
    "instance_type",
    "spot",
    "node",
    "action",
    "state",
    "owner",
    "project",
    "evidence",
    "saving_per_hour",
    "keeps_billing_per_hour",
    "currency",
    "fingerprint",
    "created_at",
    "expires_at",
    "updated_at",
    "nonce",
    "decided_by",
    "decided_at",
    "snoozed_until",
    "result",
    "card_channel",
    "card_ts",
)
AUDIT_FIELDS = (
    "at",
    "proposal_id",
    "actor_user_id",
    "actor_email",
    "event",
    "action",
    "mode",
    "before",
    "after",
    "cloud_request_id",
    "error",
)


def stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def new_nonce() -> str:
    return secrets.token_urlsafe(9)


@dataclass
class StoredProposal:
    id: str
    cloud: str
    account: str
    region: str
    resource_id: str
    instance_type: str | None
    spot: bool | None
    node: str
    action: str
    state: str
    owner: str | None
    project: str | None
    evidence: dict
    saving_per_hour: float | None
    keeps_billing_per_hour: float | None
    currency: str
    fingerprint: str | None
    created_at: str
    expires_at: str
    updated_at: str
    nonce: str
    decided_by: str | None = None
    decided_at: str | None = None
    snoozed_until: str | None = None
    result: dict = field(default_factory=dict)
    card_channel: str | None = None
    card_ts: str | None = None

    @property
    def resource(self) -> str:
        return f"{self.cloud}:{self.account or '-'}:{self.region}:{self.resource_id}"


def _row(row: tuple) -> StoredProposal:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["spot"] = None if values["spot"] is None else bool(values["spot"])
    values["evidence"] = json.loads(values["evidence"] or "{}")
    values["result"] = json.loads(values["result"] or "{}")
    return StoredProposal(**values)


def insert(db: Database, p: StoredProposal) -> bool:
    """Store a new proposal; False when one is already open for the resource and action."""
    values = [getattr(p, c) for c in _COLUMNS]
    values[_COLUMNS.index("evidence")] = json.dumps(p.evidence, sort_keys=True)
    values[_COLUMNS.index("result")] = json.dumps(p.result, sort_keys=True)
    marks = ",".join("?" * len(_COLUMNS))
    sql = f"INSERT OR IGNORE INTO proposals ({', '.join(_COLUMNS)}) VALUES ({marks})"
    with db.conn:
        return db.execute(sql, values).rowcount == 1


def get(db: Database, proposal_id: str) -> StoredProposal | None:
    row = db.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM proposals WHERE id = ?", [proposal_id]
    ).fetchone()
    return _row(row) if row else None


def listed(
    db: Database, states: tuple[str, ...] = (), resource: str | None = None
) -> list[StoredProposal]:
    """Proposals, newest first; of these states; whose resource id or node is ``resource``."""
    sql, params = f"SELECT {', '.join(_COLUMNS)} FROM proposals WHERE 1", []
    if states:
        sql += f" AND state IN ({','.join('?' * len(states))})"
        params += list(states)
    if resource:
        sql += " AND (resource_id = ? OR node = ?)"
        params += [resource, resource]
    return [_row(r) for r in db.execute(sql + " ORDER BY created_at DESC, id", params)]


def proposed_for(db: Database, nodes: set[str], limit: int = 5) -> list[StoredProposal]:
    """The proposals still awaiting a click on these nodes (their cards have buttons), the
    largest saving first."""
    if not nodes:
        return []
    found = [p for p in listed(db, ("proposed",)) if p.node in nodes]
    return sorted(found, key=lambda p: -(p.saving_per_hour or 0.0))[:limit]


def open_keys(db: Database, action: str | None = None) -> set[tuple[str, str]]:
    """(cloud, resource id) of every open proposal (of one action): one read per sweep."""
    marks = ",".join("?" * len(OPEN))
    sql = f"SELECT cloud, resource_id FROM proposals WHERE state IN ({marks})"
    params: list = list(OPEN)
    if action:
        sql += " AND action = ?"
        params.append(action)
    return {(c, r) for c, r in db.execute(sql, params)}


def snoozed_keys(db: Database, now: datetime) -> set[tuple[str, str]]:
    """(cloud, resource id) snoozed or kept past ``now`` (the sweep's own rows)."""
    sql = "SELECT cloud, resource_id FROM proposals WHERE state = 'snoozed' AND snoozed_until > ?"
    return {(c, r) for c, r in db.execute(sql, [stamp(now)])}


def move(
    db: Database,
    proposal_id: str,
    from_states: tuple[str, ...],
    to: str,
    now: datetime,
    **changes: object,
) -> bool:
    """The one conditional transition: True when this call moved the row (it was in one of
    ``from_states`` and, when ``nonce`` is among ``changes`` as ``expect_nonce``, still
    carried that nonce and had not expired)."""
    expect_nonce = changes.pop("expect_nonce", None)
    unexpired = changes.pop("unexpired", False)
    sets = {"state": to, "updated_at": stamp(now), **changes}
    for key in ("result", "evidence"):
        if key in sets:
            sets[key] = json.dumps(sets[key], sort_keys=True)
    sql = f"UPDATE proposals SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?"
    params: list = [*sets.values(), proposal_id]
    sql += f" AND state IN ({','.join('?' * len(from_states))})"
    params += list(from_states)
    if expect_nonce is not None:
        sql += " AND nonce = ?"
        params.append(expect_nonce)
    if unexpired:
        sql += " AND expires_at > ?"
        params.append(stamp(now))
    with db.conn:
        return db.execute(sql, params).rowcount == 1


def rotate(db: Database, proposal_id: str) -> str:
    """A fresh nonce for a card about to be (re)drawn: an older card's buttons then say it
    is out of date."""
    nonce = new_nonce()
    with db.conn:
        db.execute("UPDATE proposals SET nonce = ? WHERE id = ?", [nonce, proposal_id])
    return nonce


def place_card(db: Database, proposal_id: str, channel: str, ts: str) -> None:
    """Where the proposal's card was posted (its owner's DM): chat.update redraws it."""
    with db.conn:
        db.execute(
            "UPDATE proposals SET card_channel = ?, card_ts = ? WHERE id = ?",
            [channel, ts, proposal_id],
        )


def due_to_expire(db: Database, now: datetime) -> list[StoredProposal]:
    sql = (
        f"SELECT {', '.join(_COLUMNS)} FROM proposals WHERE state IN ('proposed', 'planned') "
        "AND expires_at <= ?"
    )
    return [_row(r) for r in db.execute(sql, [stamp(now)])]


def executions_since(db: Database, cloud: str, account: str, since: datetime) -> int:
    """Real executions in one cloud account since ``since`` (the hourly limit)."""
    sql = (
        "SELECT COUNT(*) FROM remediation_audit a JOIN proposals p ON p.id = a.proposal_id "
        "WHERE a.event = 'executing' AND a.mode = 'real' AND p.cloud = ? AND p.account = ? "
        "AND a.at >= ?"
    )
    return db.execute(sql, [cloud, account, stamp(since)]).fetchone()[0]


def _audit_row(at: datetime, event: str, proposal: StoredProposal | None, fields: dict) -> tuple:
    values = {k: fields.get(k) for k in AUDIT_FIELDS if k not in ("at", "event", "proposal_id")}
    for key in ("before", "after"):
        if isinstance(values[key], dict):
            values[key] = json.dumps(values[key], sort_keys=True)
    if proposal is not None:
        values["action"] = values["action"] or proposal.action
    row = {
        "at": stamp(at),
        "event": event,
        "proposal_id": proposal.id if proposal else None,
        "resource": proposal.resource if proposal else fields.get("resource"),
        **values,
    }
    marks = ",".join("?" * len(row))
    return f"INSERT INTO remediation_audit ({', '.join(row)}) VALUES ({marks})", list(row.values())


def audit(
    db: Database, at: datetime, event: str, proposal: StoredProposal | None = None, **fields: object
) -> None:
    """Append one audit line (its own transaction: it is written even when what follows
    fails). ``before``/``after`` may be dicts (stored as JSON)."""
    with db.conn:
        db.execute(*_audit_row(at, event, proposal, fields))


def claim_execution(
    db: Database,
    p: StoredProposal,
    since: datetime,
    limit: int,
    now: datetime,
    result: dict,
    fields: dict,
) -> bool:
    """In one write transaction: when the account has had fewer than ``limit`` real
    executions since ``since``, move ``p`` from approved to executing and append its
    "executing" line. Two processes cannot both pass the limit."""
    conn = db.conn
    begin_write(conn)
    try:
        if executions_since(db, p.cloud, p.account, since) >= limit:
            conn.rollback()
            return False
        moved = conn.execute(
            "UPDATE proposals SET state = 'executing', updated_at = ?, result = ? "
            "WHERE id = ? AND state = 'approved'",
            [stamp(now), json.dumps(result, sort_keys=True), p.id],
        ).rowcount
        if moved != 1:
            conn.rollback()
            return False
        conn.execute(*_audit_row(now, "executing", p, fields))
        conn.commit()
        return True
    except BaseException:
        conn.rollback()
        raise


def audit_events(
    db: Database,
    resource: str | None = None,
    since: datetime | None = None,
    proposal_ids: set[str] | None = None,
) -> list[dict]:
    """Audit lines, oldest first: of one resource (its id or node name, or a proposal id),
    since a time, or of some proposals."""
    sql = (
        f"SELECT a.{', a.'.join(AUDIT_FIELDS)}, a.resource FROM remediation_audit a "
        "LEFT JOIN proposals p ON p.id = a.proposal_id WHERE 1"
    )
    params: list = []
    if resource:
        sql += " AND (p.resource_id = ? OR p.node = ? OR a.proposal_id = ? OR a.resource = ?)"
        params += [resource] * 4
    if since is not None:
        sql += " AND a.at >= ?"
        params.append(stamp(since))
    rows = db.execute(sql + " ORDER BY a.seq", params).fetchall()
    out = []
    for row in rows:
        event = dict(zip((*AUDIT_FIELDS, "resource"), row, strict=True))
        if proposal_ids is not None and event["proposal_id"] not in proposal_ids:
            continue
        for key in ("before", "after"):
            if event[key] and event[key].startswith("{"):
                event[key] = json.loads(event[key])
        out.append(event)
    return out


def expires(now: datetime, hours: int) -> str:
    return stamp(now + timedelta(hours=hours))
