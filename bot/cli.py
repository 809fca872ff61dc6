"""`python -m bot <command>`: demo, ask, import, status."""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence

from bot import commands, importing
from finops_bot.errors import FinopsError, UsageError
from finops_bot.store.db import explain


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError("give 0 to 86400 seconds")
    return value


def add_wait(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait",
        type=seconds,
        default=600.0,
        metavar="SECONDS",
        help="wait this long for another import or sync of the cache to finish (default 600)",
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        help="cache file (default ./finops-bot.db, or FINOPS_BOT_DB)",
    )
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help="TOML config file (default ./finops-bot.toml if present)",
    )

    parser = argparse.ArgumentParser(
        prog=commands.program(),
        description="finops-bot: cloud cost answers from a local cache of billing data.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "demo", parents=[common], help="build the offline demo organisation and ask it questions"
    )
    p.add_argument("--as-of", help="pretend today is YYYY-MM-DD (reproducible output)")
    p.set_defaults(run=commands.demo)

    p = sub.add_parser("ask", parents=[common], help="answer one cost question")
    p.add_argument(
        "question", nargs="+", help='e.g. "what did project bert-training cost this week"'
    )
    p.add_argument("--as-of", help="pretend today is YYYY-MM-DD (reproducible answers)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON (stable contract)")
    p.add_argument(
        "--chart-dir",
        metavar="DIR",
        help="write a series answer's chart (PNG) here (default with --json: charts/ beside "
        "the cache); JSON lists it under files",
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--channel",
        metavar="CHANNEL_ID",
        help="answer as a visible post in this Slack channel would show it ([access] grants)",
    )
    who.add_argument(
        "--scope",
        action="append",
        metavar="KEY=NAMES",
        help="answer as someone limited to this scope would see it: projects=, teams=, "
        "owners=, providers=, accounts= (repeat to add keys: every key must hold; the names "
        "of one key are any of them, e.g. teams=nlp,vision)",
    )
    p.set_defaults(run=commands.ask)

    p = sub.add_parser(
        "import",
        parents=[common],
        help="import billing files: FOCUS, AWS CUR, Azure exports (CSV, CSV.gz, Parquet)",
        description="The files (or folders) of one command are one delivery: it replaces what "
        "earlier imports held for the same provider, billing account and billing period. "
        "Exit codes: 0 every row of every file stored; 3 something stored but rows or files "
        "refused; 1 nothing stored; 2 a usage error.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, or folders of them")
    p.add_argument("--strict", action="store_true", help="refuse a file with any unreadable row")
    p.add_argument(
        "--append",
        action="store_true",
        help="import even where a configured sync source already brought the same provider's days",
    )
    p.add_argument(
        "--cost-type",
        choices=["actual", "amortized"],
        help="an Azure cost-details export's cost type, when its rows do not tell",
    )
    p.add_argument("--source", help="name the source (default: file:<absolute path>)")
    p.add_argument("--currency", help="billing currency for files without a BillingCurrency column")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_wait(p)
    p.set_defaults(run=importing.import_files)

    p = sub.add_parser("serve", parents=[common], help="run the Slack app (Socket Mode or HTTP)")
    p.add_argument("--host", help="address to listen on (default 0.0.0.0, or [server] host)")
    p.add_argument("--port", type=int, help="port (default 3000, or [server] port)")
    p.set_defaults(run=commands.serve)

    p = sub.add_parser(
        "sync", parents=[common], help="pull billing data from the configured sources"
    )
    p.add_argument("--source", help="only this source (a name from [[sources]])")
    p.add_argument("--since", help="backfill from YYYY-MM-DD (default: the refresh window)")
    add_wait(p)
    p.set_defaults(run=commands.sync)

    p = sub.add_parser(
        "agent-token", parents=[common], help="GPU agent tokens: create, list, revoke"
    )
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("--name", help="the token's name (create, revoke)")
    p.add_argument(
        "--can-claim",
        action="store_true",
        help="create: this token may take over nodes another token reported first",
    )
    p.set_defaults(run=commands.agent_token)

    p = sub.add_parser("gpus", parents=[common], help="the GPU fleet: state, $/h, idle $")
    p.add_argument("--idle", action="store_true", help="only idle, partly idle and stalled nodes")
    p.add_argument("--as-of", help="as at the end of YYYY-MM-DD (the demo's pinned fleet)")
    p.set_defaults(run=commands.gpus)

    p = sub.add_parser("status", parents=[common], help="what the cache holds and how fresh it is")
    p.set_defaults(run=commands.status)

    from bot import anomaly_commands

    anomaly_commands.add_parser(sub, common)
    from bot import digest_commands

    digest_commands.add_parser(sub, common)
    from bot import remediation_commands

    remediation_commands.add_parser(sub, common)
    from bot import permissions_command

    permissions_command.add_parser(sub, common)
    from bot import budget_commands

    budget_commands.add_parser(sub, common)
    return parser


def cache_path(args: argparse.Namespace) -> str | None:
    try:
        from finops_bot.config import load_settings

        return str(load_settings(os.environ, config_path=args.config, db_path=args.db).db_path)
    except Exception:  # noqa: BLE001 - only for naming the file in an error message
        return args.db


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # the SDKs' own warnings (azure-identity lists every credential it tried) would bury the
    # one line we print; our messages say what to do
    logging.getLogger("azure").setLevel(logging.ERROR)
    args.db = getattr(args, "db", None)
    args.config = getattr(args, "config", None)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FinopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:  # the cache itself: read-only, full, damaged, busy
        print(f"error: {explain(exc, cache_path(args))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `python -m bot ask ... | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(
            "\ninterrupted: nothing was half-written; the cache is as it was before.",
            file=sys.stderr,
        )
        return 130
