"""`proposals [--json]`, `audit [--resource R] [--since D] [--json]` and `sweep`: what was
proposed, every decision taken, and one idle sweep now. Approvals happen only through
signed Slack clicks: the command line proposes and reads, it never approves."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from bot.deps import build, parse_as_of
from finops_bot.errors import UsageError
from finops_bot.render.proposals import audit_lines, proposal_json, proposal_text
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
    if args.resource is not None and not args.resource.isprintable() or _undecodable(args.resource):
        raise UsageError(f"--resource {args.resource!r}: give an instance id or name, or rp_…")
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


def _undecodable(text: str | None) -> bool:
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
    from bot.remediation import service_of

    idle, spot = service_of(deps).sweeps(now)
    print(
        f"{idle.candidates} node(s) wasted for {rules.propose_after_minutes}+ minutes "
        "(those proposed or snoozed before are not proposed again); "
        f"{len(idle.proposed)} new proposal(s) to stop."
    )
    print(
        f"{spot.candidates} busy on-demand node(s) checked for Spot; "
        f"{len(spot.proposed)} new Spot proposal(s) (an approver decides)."
    )
    for p in idle.proposed + spot.proposed:
        print(proposal_text(p, now))
    for line in idle.skipped + spot.skipped:
        print(f"  skipped {line}")
    return 0


DEMO_RULES = {"propose_after_minutes": 30, "approvers": ["U0OPS"]}
DEMO_PEOPLE = {"U0ALICE": "alice@acme.ai", "U0BOB": "bob@acme.ai", "U0EVE": "eve@acme.ai"}


def demo_section(db, deps, prog: str, db_flag: str) -> None:
    """The whole flow on the demo's in-memory cloud: the sweep, a stranger refused, the
    owner's dry run, the double click, then (dry_run = false) an approver's stop, the
    owner's DM, [Start again], and the audit."""
    from dataclasses import replace

    from finops_bot.access import Identity
    from finops_bot.remediation.demo_cloud import DemoCloud
    from finops_bot.remediation.rules import parse_remediation
    from finops_bot.remediation.runner import Actor, Runner
    from finops_bot.remediation.sweep import sweep

    rules = parse_remediation(DEMO_RULES)  # its own, whatever the config says: a fixed story
    now, cloud = deps.fleet_now(db), DemoCloud.of_demo_fleet()
    for p in store.listed(db, store.OPEN):  # an earlier demo run's proposals make way
        if store.move(db, p.id, store.OPEN, "expired", now):
            store.audit(
                db,
                now,
                "expired",
                p,
                actor_user_id="demo",
                mode="dry-run",
                error="the demo ran again",
            )
    print(
        "# Remediation: the idle sweep proposes stopping GPU instances idle for "
        f"{rules.propose_after_minutes}+ minutes\n# ([remediation] propose_after_minutes); "
        "each owner gets the card in a DM. Owners come from the\n# instance's owner tag "
        "in the cloud (here the demo's in-memory cloud), never from agent labels.\n"
    )
    print(f"$ {prog} sweep{db_flag}")
    made = sweep(db, now, rules, cloud, deps.prices, deps.settings.fleet).proposed
    print(f"{len(made)} new proposal(s):")
    for p in made:
        print(
            f"  {p.resource_id} ({p.instance_type}, {p.evidence['state']}, owner {p.owner}): "
            f"saves ${p.saving_per_hour:,.2f}/h net of what keeps billing"
        )
    actor = {u: Actor(u, e, Identity(u)) for u, e in {**DEMO_PEOPLE, "U0OPS": None}.items()}
    idle = next(p for p in made if p.owner == "alice@acme.ai")
    runner = Runner(rules, deps.settings.access, cloud)
    said = [
        (
            "eve (her agent label claims the node; the tag says alice)",
            runner.stop(db, idle.id, idle.nonce, actor["U0EVE"], now).message,
        ),
        (
            "alice, its owner, clicks [Stop] (dry_run = true, the default)",
            runner.stop(db, idle.id, idle.nonce, actor["U0ALICE"], now).message,
        ),
        ("the card now says", status_plain(store.get(db, idle.id))),
        (
            "alice clicks the same card again",
            runner.stop(db, idle.id, idle.nonce, actor["U0ALICE"], now).message,
        ),
    ]
    stalled = next(p for p in made if p.owner == "bob@acme.ai")
    live = Runner(replace(rules, dry_run=False), deps.settings.access, cloud)
    stopped = live.stop(db, stalled.id, stalled.nonce, actor["U0OPS"], now)
    said.append(("with dry_run = false, approver U0OPS stops bob's stalled p5", stopped.message))
    said.append(("bob is told in a DM", stopped.notify_owner))
    said.append(("the demo cloud's instance is now", cloud.find(sweep_target(stalled)).state))
    again = live.start(db, stalled.id, stopped.proposal.nonce, actor["U0BOB"], now)
    said.append(("bob clicks [Start again]", again.message))
    print()
    for who, message in said:
        print(f"  {who}:\n    {message}")
    print(f"\n$ {prog} audit --resource {stalled.resource_id}{db_flag}")
    for line in audit_lines(store.audit_events(db, stalled.id)):
        print("  " + line.replace(stalled.id, "rp_…"))
    print()
    demo_spot(db, now, rules, cloud, deps, actor)


def demo_spot(db, now, rules, cloud, deps, actor: dict) -> None:
    """Spot advice on the demo: the busy on-demand nodes whose jobs write checkpoints; GCP's
    switches in place (an approver's dry run), AWS standalone gets a written plan."""
    from finops_bot.access import Identity
    from finops_bot.remediation.runner import Actor, Runner
    from finops_bot.remediation.spot import spot_sweep

    result = spot_sweep(db, now, rules, cloud, deps.prices, deps.settings.fleet)
    print(
        "# Spot: busy on-demand nodes whose work can resume (labels.checkpoints, or progress "
        "that\n# went on after a restart), the saving from dated prices; an approver "
        "decides:\n"
    )
    for p in result.proposed:
        how = "a written plan" if p.evidence["plan_only"] else "switches in place"
        print(
            f"  {p.resource_id} ({p.instance_type}, owner {p.owner}): saves "
            f"${p.saving_per_hour:,.2f}/h on Spot ({p.evidence['price_basis']}); {how}"
        )
    print(
        f"  ({len(result.skipped)} busy on-demand node(s) not advised: nothing shows their "
        "jobs can resume)"
    )
    runner = Runner(rules, deps.settings.access, cloud)
    gcp = next((p for p in result.proposed if not p.evidence["plan_only"]), None)
    aws = next((p for p in result.proposed if p.evidence["plan_only"]), None)
    if gcp:
        dan = Actor("U0DAN", gcp.owner, Identity("U0DAN"))
        print(
            f"  {gcp.owner}, its owner, clicks [Switch to Spot]:\n    "
            f"{runner.stop(db, gcp.id, gcp.nonce, dan, now).message}"
        )
        runner.stop(db, gcp.id, gcp.nonce, actor["U0OPS"], now)
        print(f"  approver U0OPS clicks it (dry run):\n    {status_plain(store.get(db, gcp.id))}")
    if aws:
        plan = runner.copy_plan(db, aws.id, aws.nonce, actor["U0OPS"], now).message
        print(f"  [Copy plan] on {aws.resource_id}:\n    " + "\n    ".join(plan.splitlines()[:6]))
        print("    …")
    print()


def status_plain(p) -> str:
    from finops_bot.render.proposals import status_line

    return status_line(p).replace("*", "")


def sweep_target(p):
    from finops_bot.remediation.sweep import target_of_proposal

    return target_of_proposal(p)
