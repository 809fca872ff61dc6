"""`budgets [--as-of D] [--json]`: every [[budgets]] budget's period as billed before D
(default today): spent, percent, the forecast with its 80% interval, the thresholds
crossed, whether the forecast is over, what drives it, and the live GPU estimate for the
days billing does not cover yet. Reads only; the ladder is recorded by `serve`'s job."""

from __future__ import annotations

import argparse
import json

from bot.deps import build
from finops_bot.forecast import budgets
from finops_bot.gpu.burn import live_estimate
from finops_bot.render.outlook import status_lines
from finops_bot.store import connect


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "budgets", parents=[common], help="budgets: spent, forecast, thresholds crossed"
    )
    p.add_argument("--as-of", help="as billed before YYYY-MM-DD (default: today)")
    p.add_argument("--json", action="store_true", help='print {"budgets": [...]} as JSON')
    p.set_defaults(run=run)


def statuses(deps, db) -> list:
    s = deps.settings

    def live(start, end, keep):
        return live_estimate(db, deps.prices, start, end, deps.answer_now, keep)

    return [
        budgets.status(db, b, deps.today, s.measure, s.questions.fiscal_start, live)
        for b in deps.budgets(db).budgets
    ]


def run(args: argparse.Namespace) -> int:
    deps = build(args.db, args.config, args.as_of)
    db = connect(deps.settings.db_path)
    try:
        found = statuses(deps, db)
    finally:
        db.close()
    if args.json:
        print(json.dumps({"as_of": deps.today.isoformat(),
                          "budgets": [s.to_dict() for s in found]}, indent=2))  # fmt: skip
        return 0
    if not found:
        print(
            "No budgets configured. Add one to the config file, e.g.\n\n"
            '[[budgets]]\nname = "nlp"\nteam = "nlp"\namount = 40000\ncurrency = "USD"\n'
            'channel = "C0NLP"'
        )
        return 0
    print(f"Budgets as billed before {deps.today}:")
    for line in status_lines(found):
        print(f"  {line}")
    return 0
