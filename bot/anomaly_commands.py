"""`anomalies`: list (detecting first), `anomalies backtest`, `anomalies mark`. Thin: the
core does the work; ``--as-of D`` sees the charge days before D."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import date, timedelta

from bot.deps import build, parse_as_of
from finops_bot.anomalies import backtest as replay
from finops_bot.anomalies.rules import ALLOWED_DIMENSIONS
from finops_bot.anomalies.run import find, save
from finops_bot.errors import UsageError
from finops_bot.render.anomalies import SCHEMA_VERSION, anomaly_dict, anomaly_lines
from finops_bot.store import anomalies as stored
from finops_bot.store import connect, reads

OPEN = ("open", "acknowledged")
RECENT_DAYS = 30


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "anomalies",
        parents=[common],
        help="cost anomalies: list the open ones (detecting first), backtest, mark",
    )
    p.add_argument("--as-of", help="as if today were YYYY-MM-DD: sees the charge days before it")
    p.add_argument("--json", action="store_true", help="print JSON (stable contract)")
    p.set_defaults(run=anomalies)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    b = actions.add_parser(
        "backtest", parents=[common], help="replay detection day by day over a range"
    )
    b.add_argument("--from", dest="start", required=True, help="first day YYYY-MM-DD")
    b.add_argument("--to", dest="end", required=True, help="last day YYYY-MM-DD")
    b.add_argument("--by", default="project", help="the subject dimension (default project)")
    b.add_argument("--min-daily-impact", type=float, help="override [anomalies]")
    b.add_argument("--min-relative", type=float, help="override [anomalies] (0.2 = 20%%)")
    b.add_argument("--json", action="store_true", help="print JSON (stable contract)")
    b.set_defaults(run=backtest)
    m = actions.add_parser(
        "mark", parents=[common], help="record a decision: acknowledged, expected, not_anomaly"
    )
    m.add_argument("id", help="the anomaly id (an_…)")
    m.add_argument("status", choices=["acknowledged", "expected", "not_anomaly", "open"])
    m.add_argument("--by", default="cli", help="who decided (default: cli)")
    m.add_argument("--note", help="why")
    m.set_defaults(run=mark)


def anomalies(args: argparse.Namespace) -> int:
    deps = build(args.db, args.config)
    db = connect(deps.settings.db_path)
    rules, measure = deps.settings.anomalies, deps.settings.measure
    as_of = parse_as_of(args.as_of) if args.as_of else None
    _, last = reads.data_span(db)
    if last is None:
        if args.json:
            print(json.dumps({"schema_version": SCHEMA_VERSION, "data_through": None,
                              "anomalies": [], "recent": [], "events": []}, indent=2))  # fmt: skip
        else:
            print("No billing data yet: python -m bot demo, or python -m bot import FILE.")
        return 0
    through = min(date.fromisoformat(last), (as_of or deps.today) - timedelta(days=1))
    result = find(db, rules, through, measure)
    if as_of is None or through >= date.fromisoformat(last):  # the cache's present: stored
        save(db, result, rules.dimensions, deps.now, measure)
        by_id = {a.id: a for a in stored.stored(db, measure=None)}
        found = [by_id.get(a.id, a) for a in [*result.anomalies, *result.events]]
    else:  # the past: shown, not stored
        found = [*result.anomalies, *result.events]
    alerts = [a for a in found if a.part_of is None and a.kind != "purchase"]
    since = (through - timedelta(days=RECENT_DAYS - 1)).isoformat()
    current = [a for a in alerts if a.status in OPEN]
    recent = [a for a in alerts if a.status not in OPEN and a.last_day >= since]
    events = [a for a in found if a.kind == "purchase" and a.start >= since]
    if args.json:
        payload = {
            "schema_version": SCHEMA_VERSION,
            "data_through": through.isoformat(),
            "anomalies": [anomaly_dict(a) for a in current],
            "recent": [anomaly_dict(a) for a in recent],
            "events": [anomaly_dict(a) for a in events],
        }
        print(json.dumps(payload, indent=2))
        return 0
    print(f"Anomalies (data through {through}, {result.series} usage series, {measure}):")
    for title, group in (("Open", current), (f"Ended in the last {RECENT_DAYS} days", recent),
                         ("Commitment purchases (events, not anomalies)", events)):  # fmt: skip
        print(f"\n{title}: {len(group) or 'none'}")
        for a in sorted(group, key=lambda x: -x.impact):
            print("\n".join(f"  {line}" for line in anomaly_lines(a)))
    return 0


def backtest(args: argparse.Namespace) -> int:
    deps = build(args.db, args.config)
    rules = deps.settings.anomalies
    if args.min_daily_impact is not None or args.min_relative is not None:
        rules = replace(
            rules,
            min_daily_impact=args.min_daily_impact
            if args.min_daily_impact is not None
            else rules.min_daily_impact,
            min_relative=args.min_relative if args.min_relative is not None else rules.min_relative,
        )
    for flag, value in (("--min-daily-impact", args.min_daily_impact),
                        ("--min-relative", args.min_relative)):  # fmt: skip
        if value is not None and not (value >= 0 and value != float("inf")):
            raise UsageError(f"{flag} {value!r}: give a number ≥ 0")
    start, end = parse_as_of(args.start, "--from"), parse_as_of(args.end, "--to")
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    allowed = sorted({*rules.dimensions, *ALLOWED_DIMENSIONS})
    if args.by not in allowed:
        raise UsageError(f"--by {args.by!r}: give one of {', '.join(allowed)}")
    db = connect(deps.settings.db_path)  # a backtest writes nothing (an old cache is upgraded)
    report = replay.run(db, rules, start, end, args.by, deps.settings.measure)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("\n".join(backtest_lines(report)))
    return 0


def backtest_lines(report: dict) -> list[str]:
    """The backtest as text: one line per alert, in the order they were raised."""
    lines = [
        f"Backtest {report['from']} … {report['to']} by {report['by']}: "
        f"{len(report['anomalies'])} alert(s), {len(report['events'])} purchase event(s), "
        f"{report['series']} series"
    ]
    for a in report["anomalies"]:
        ((dim, key),) = a["subject"].items()
        cause = next((c for c in a["root_cause"] if c["dimension"] == "service"), None)
        why = f"; mostly {cause['value']} (+{cause['impact']:,.2f})" if cause else ""
        lines.append(
            f"  {a['detected_on']} {dim} {key}: {a['kind']}, {a['actual']:,.2f} against "
            f"{a['expected']:,.2f} expected {a['currency']}{why}"
        )
    return lines


def mark(args: argparse.Namespace) -> int:
    deps = build(args.db, args.config)
    db = connect(deps.settings.db_path)
    found = stored.set_status(db, args.id, args.status, args.by, deps.now, args.note)
    if found is None:
        raise UsageError(f"no anomaly {args.id!r}: `anomalies --json` lists their ids")
    print(f"{found.id}: {found.status} (by {args.by}); {len(found.history)} status change(s).")
    return 0
