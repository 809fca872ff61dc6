"""The idle-GPU digest as text and Block Kit (one message; an owner's nodes beyond
MAX_NODES end with "and N more" and the command that shows all)."""

from __future__ import annotations

from finops_bot.digest.idle import IdleDigest, IdleNode
from finops_bot.money import format_money
from finops_bot.render.proposals import proposal_blocks
from finops_bot.render.sections import header_block, section_block, sections_text

MAX_NODES = 6


def _usd(value: float | None) -> str:
    return format_money(value or 0.0, "USD")


def node_line(n: IdleNode, digest: IdleDigest) -> str:
    since = n.since.strftime("%H:%M")
    hours = max((digest.now.replace(tzinfo=None) - n.since.replace(tzinfo=None)).total_seconds()
                / 3600, 0)  # fmt: skip
    where = f"{n.hostname} ({n.project or 'no project'})"
    if n.state == "silent":
        billing = f", may still be billing {_usd(n.node_hourly)}/h" if n.node_hourly else ""
        return f"{where}: stopped reporting at {since} ({hours:.1f} h ago){billing}"
    return (
        f"{where}: {n.state}, {n.idle_gpus}/{n.gpus} GPUs, since {since} ({hours:.1f} h): "
        f"{_usd(n.hourly)}/h now, {_usd(n.so_far)} so far, {_usd(n.per_day)}/day if left"
    )


def headline(digest: IdleDigest) -> str:
    scope = f" · {digest.scope}" if digest.scope else ""
    name = "" if digest.name == "idle" else f" {digest.name}"
    return f"Idle GPUs{name}{scope} · {digest.now:%Y-%m-%d %H:%M} UTC"


def sections(digest: IdleDigest) -> list[tuple[str, list[str]]]:
    if not digest.nodes:
        return [("", ["No idle, stalled or silent GPU nodes now."])]
    out = [("", [f"{_usd(digest.hourly)}/h wasted now, {_usd(digest.so_far)} so far, on "
                 f"{len(digest.nodes)} node(s)"])]  # fmt: skip
    for owner, nodes in digest.owners.items():
        lines = [node_line(n, digest) for n in nodes[:MAX_NODES]]
        if len(nodes) > MAX_NODES:
            lines.append(f"… and {len(nodes) - MAX_NODES} more: python -m bot gpus --idle")
        out.append((owner, lines))
    if digest.cards:
        out.append(("Proposed fixes (the cards' buttons; python -m bot proposals)", [
            f"{p.resource_id} ({p.instance_type or '?'}): stop, saves "
            f"{_usd(p.saving_per_hour)}/h" for p in digest.cards
        ]))  # fmt: skip
    if digest.leaderboard:
        out.append(("Idle GPU-hours, last 7 days", [
            f"{owner}: {hours:,.1f} GPU-hours ({_usd(dollars)})"
            for owner, hours, dollars in digest.leaderboard
        ]))  # fmt: skip
    return out


def idle_text(digest: IdleDigest) -> str:
    return "\n".join(sections_text(headline(digest), sections(digest)))


def idle_blocks(digest: IdleDigest) -> list[dict]:
    blocks = [header_block(headline(digest))]
    blocks += [section_block(h, body, "python -m bot gpus --idle") for h, body in sections(digest)]
    for p in digest.cards:  # each card: a section and its buttons
        if len(blocks) + 2 > 50:
            break
        blocks += proposal_blocks(p, digest.now)
    return blocks[:50]
