"""Agent tokens: printed once at creation, stored as a sha256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlite_utils import Database

from finops_bot.errors import FinopsError

PREFIX = "fbt_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, name: str, now: datetime, can_claim: bool = False) -> str:
    """A new token; ``can_claim`` lets it take over nodes another token reported first."""
    name = name.strip()
    if not name or len(name) > 100:
        raise FinopsError("--name: give the token a short name, e.g. the node group it is for")
    if db.execute("SELECT 1 FROM agent_tokens WHERE name = ?", (name,)).fetchone():
        raise FinopsError(f"a token named {name!r} exists; revoke it first or choose a name")
    token = PREFIX + secrets.token_urlsafe(32)
    with db.conn:
        db.execute(
            "INSERT INTO agent_tokens (name, token_hash, created_at, can_claim) VALUES (?,?,?,?)",
            (name, _hash(token), now.isoformat(timespec="seconds"), int(can_claim)),
        )
    return token


def list_tokens(db: Database) -> list[tuple[str, str, str | None, int, int]]:
    """(name, created, revoked, can claim, nodes bound to it), by name."""
    return db.execute(
        "SELECT name, created_at, revoked_at, can_claim, (SELECT COUNT(*) FROM node_tokens n "
        "WHERE n.token_id = agent_tokens.id) FROM agent_tokens ORDER BY name"
    ).fetchall()


def revoke_token(db: Database, name: str, now: datetime) -> None:
    with db.conn:
        cur = db.execute(
            "UPDATE agent_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
            (now.isoformat(timespec="seconds"), name),
        )
    if cur.rowcount == 0:
        raise FinopsError(f"no active token named {name!r} (python -m bot agent-token list)")


def verify_token(db: Database, token: str) -> int | None:
    """The token's id, or None when unknown or revoked."""
    if not token.startswith(PREFIX):
        return None
    row = db.conn.execute(  # the plain connection: this runs for every heartbeat batch
        "SELECT id FROM agent_tokens WHERE token_hash = ? AND revoked_at IS NULL", (_hash(token),)
    ).fetchone()
    return row[0] if row else None
