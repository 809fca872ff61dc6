"""Which GPU nodes have shown that their work survives an interruption: the agent says the
job writes checkpoints (``labels.checkpoints = true``), or the node's progress counter went
on after a gap in its heartbeats (a restart) instead of starting again from nothing. Only
such work is advised onto Spot; the reason is named on the card."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlite_utils import Database

GAP_MINUTES = 3  # heartbeats missing this long: the node (or its job) restarted


def resumable(db: Database, nodes: Iterable[str], silent_minutes: int = GAP_MINUTES) -> dict:
    """node → why it can resume ("checkpoints label", "progress went on after a restart at
    …"), for the nodes that can; the others are left out."""
    wanted = sorted(set(nodes))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    out = {
        node: "the agent reports the job writes checkpoints (labels.checkpoints)"
        for (node,) in db.execute(
            f"SELECT DISTINCT node FROM gpu_latest WHERE checkpoints = 1 AND node IN ({marks})",
            wanted,
        )
    }
    rows = db.execute(
        f"SELECT node, minute, MAX(progress) FROM gpu_minutes WHERE node IN ({marks}) "
        "AND progress IS NOT NULL GROUP BY node, minute ORDER BY node, minute",
        wanted,
    ).fetchall()
    last: dict[str, tuple[datetime, int]] = {}
    for node, minute, progress in rows:
        at = datetime.fromisoformat(minute)
        before = last.get(node)
        gap = before is not None and at - before[0] >= timedelta(minutes=silent_minutes)
        if gap and node not in out and progress > before[1] > 0:
            out[node] = (
                f"its progress counter went on ({before[1]:,} → {progress:,}) after a restart "
                f"at {minute[11:16]} UTC"
            )
        last[node] = (at, progress)
    return out
