"""`proposals [--json]`, `audit [--resource R] [--since D] [--json]` and `sweep`: what was
proposed, every decision taken, and one idle sweep now. Approvals happen only through
signed Slack clicks: the command line proposes and reads, it never approves."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from bot.deps import Deps, build, parse_as_of
from finops_bot.render.proposals import proposal_json, proposal_text
from finops_bot.store import connect
from finops_bot.store import proposals as store


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "proposals",
        parents=[common],
        help="remediation proposals (idle GPU instances to stop) and their states",
    )
    p.add_argument("--json", action="store_true", help="print JSON (stable contract)")
    p.add_argument("--open", action="store_true", help="only the open ones")
    p.set_defaults(run=proposals)
    a = sub.add_parser(
        "audit", parents=[common], help="the remediation audit: every click and transition"
    )
    a.add_argument("--resource", help="an instance id or name, a node, or a proposal id (rp_…)")
    a.add_argument("--since", help="events from this day on (YYYY-MM-DD)")
    a.add_argument("--json", action="store_true", help="print JSON (stable contract)")
    a.set_defaults(run=audit)
    s = sub.add_parser(
        "sweep",
        parents=[common],
        help="run the idle sweep once: propose stopping long-idle GPU instances",
    )
    s.set_defaults(run=sweep_once)


def service(deps: Deps, people=None):
    from bot.remediation import Remediation

    s = deps.settings
    return Remediation(s.db_path, s.remediation, s.access, people, deps.prices, s.fleet)


def proposals(args: argparse.Namespace) -> int:
    deps = build(args.db, args.config)
    db = connect(deps.settings.db_path)
    try:
        found = store.listed(db, store.OPEN if args.open else ())
        now = deps.fleet_now(db)
    finally:
        db.close()
    if args.json:
        print(json.dumps({"proposals": [proposal_json(p) for p in found]}, indent=2))
        return 0
    if not found:
        print(
            "No proposals yet. The idle sweep proposes for GPU nodes idle past "
            "[remediation] propose_after_minutes (`python -m bot sweep` runs it now)."
        )
        return 0
    print("\n\n".join(proposal_text(p, now) for p in found))
    return 0


def audit(args: argparse.Namespace) -> int:
    deps = build(args.db, args.config)
    day = parse_as_of(args.since, "--since")
    since = datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None
    db = connect(deps.settings.db_path)
    try:
        events = store.audit_events(db, args.resource, since)
    finally:
        db.close()
    if args.json:
        fields = store.AUDIT_FIELDS
        print(json.dumps({"events": [{k: e[k] for k in fields} for e in events]}, indent=2))
        return 0
    if not events:
        print("No remediation events" + (f" for {args.resource}" if args.resource else "") + ".")
        return 0
    for line in audit_lines(events):
        print(line)
    return 0


def audit_lines(events: list[dict]) -> list[str]:
    """One line an event: when, who, what, how it ended."""
    out = []
    for e in events:
        who = e["actor_user_id"] or "-"
        if e["actor_email"]:
            who += f" ({e['actor_email']})"
        parts = [
            e["at"].replace("T", " ")[:19],
            e["proposal_id"] or e.get("resource") or "-",
            e["event"],
            e["action"] or "",
            e["mode"] or "",
            who,
        ]
        if e["cloud_request_id"]:
            parts.append(f"request {e['cloud_request_id']}")
        if e["error"]:
            parts.append(f"— {e['error']}")
        out.append("  ".join(p for p in parts if p))
    return out


def sweep_once(args: argparse.Namespace) -> int:
    deps = build(args.db, args.config)
    rules = deps.settings.remediation
    if not rules.active:
        why = "switched off (enabled = false)" if rules.configured else "not configured"
        print(
            f"Remediation is {why}: add [remediation] to the config file (README, "
            "Remediation) and run the sweep again. Nothing was proposed."
        )
        return 0
    db = connect(deps.settings.db_path)
    try:
        now = deps.fleet_now(db)
    finally:
        db.close()
    result = service(deps).sweep(now)
    print(
        f"{result.candidates} node(s) wasted for {rules.propose_after_minutes}+ minutes; "
        f"{len(result.proposed)} new proposal(s)."
    )
    for p in result.proposed:
        print(proposal_text(p, now))
    for line in result.skipped:
        print(f"  skipped {line}")
    return 0
