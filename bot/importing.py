"""`python -m bot import PATH...`: one delivery of billing files, a summary per file, and
the exit code scripts rely on (0 every row stored; 3 something stored but rows or files
refused; 1 nothing stored; 2 a usage error)."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bot.deps import build
from finops_bot.errors import FinopsError, NotBillingFile, UsageError
from finops_bot.ingest.commitments import CommitmentReport
from finops_bot.ingest.importer import ImportReport, import_file, new_delivery
from finops_bot.money import format_money
from finops_bot.store import connect
from finops_bot.store.db import CacheBusy, WriteWait

EXIT_ALL_STORED, EXIT_NOTHING, EXIT_PARTIAL = 0, 1, 3
BILLING_SUFFIXES = (".csv", ".csv.gz", ".gz", ".parquet", ".parq", ".pq", ".txt")


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, label: str, enabled: bool):
        self.label = label
        self.enabled = enabled
        self.began = time.perf_counter()
        self.last = 0.0

    def __call__(self, fraction: float) -> None:
        now = time.perf_counter()
        if not self.enabled or now - self.last < 0.2:
            return
        self.last = now
        filled = int(fraction * 30)
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] "
            f"{fraction * 100:5.1f}% {now - self.began:6.1f}s"
        )
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.last:
            sys.stderr.write("\r" + " " * (len(self.label) + 52) + "\r")
            sys.stderr.flush()


def expand(paths: list[str]) -> list[tuple[str, bool]]:
    """A folder stands for the billing files inside it (a multi-part export), sorted.
    → (path, came from a folder)."""
    out: list[tuple[str, bool]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                str(p)
                for p in path.rglob("*")
                if p.is_file() and p.name.lower().endswith(BILLING_SUFFIXES)
            )
            if not found:
                raise FinopsError(
                    f"{path} is a folder with no billing files (.csv, .csv.gz, .parquet)"
                )
            out.extend((f, True) for f in found)
        else:
            out.append((raw, False))
    return out


def waiting_line() -> None:
    print("waiting for another import or sync of this cache…", file=sys.stderr, flush=True)


def once(action: Callable[[], None]) -> Callable[[], None]:
    """``action`` the first time only: one "waiting" line per command, not per file."""
    done = []

    def run() -> None:
        if not done:
            done.append(True)
            action()

    return run


def import_files(args: argparse.Namespace) -> int:
    deps = build(args.db, args.config)
    db = connect(deps.settings.db_path, busy_seconds=args.wait)
    wait = WriteWait(args.wait, once(waiting_line))
    paths = expand(args.paths)
    if args.source and len(paths) > 1:
        raise UsageError("--source names one file's source; import the files one at a time")
    if args.currency and not re.fullmatch(r"[A-Za-z]{3}", args.currency):
        raise UsageError(f"--currency {args.currency!r}: give an ISO 4217 code such as USD")
    delivery = new_delivery(args.cost_type, args.append)
    stored = refused = partial = 0
    for path, in_folder in paths:
        bar = Progress(f"importing {path}", sys.stderr.isatty() and not args.no_progress)
        try:
            report = import_file(
                db,
                path,
                rules=deps.rules,
                now=deps.now,
                strict=args.strict,
                source=args.source,
                currency=args.currency,
                progress=bar,
                delivery=delivery,
                wait=wait,
            )
        except CacheBusy as exc:
            bar.done()
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_PARTIAL if stored else EXIT_NOTHING
        except NotBillingFile as exc:
            bar.done()
            if in_folder:  # a folder's README or mapping table: not part of the delivery
                print(f"skipped {path}: not a billing file")
                continue
            print(f"error: {exc}", file=sys.stderr)
            refused += 1
            continue
        except FinopsError as exc:
            bar.done()
            print(f"error: {exc}", file=sys.stderr)
            refused += 1
            continue
        bar.done()
        stored += 1
        if isinstance(report, CommitmentReport):
            partial += bool(report.bad.count)
            print_commitments(report)
            continue
        partial += bool(report.result.bad.count)
        print_report(report)
    if not stored:
        return EXIT_NOTHING
    return EXIT_PARTIAL if refused or partial else EXIT_ALL_STORED


def print_commitments(report: CommitmentReport) -> None:
    """A Contract Commitment import: the summary line, then what was refused or nulled."""
    print(report.summary())
    for column, bad in sorted(report.nulled.items()):
        print(f"  {column} unreadable in {bad.count:,} row(s): stored empty ({bad.describe(3)})")
    if report.bad.count:
        print(
            f"  rows refused (counted from the first data row): {report.bad.describe()}. "
            "Use --strict to refuse such a file instead."
        )


def print_report(report: ImportReport) -> None:
    r = report.result
    print(
        f"Imported {report.path} ({report.what}, {report.format}): "
        f"{r.rows_read:,} rows read, {r.rows_stored:,} stored at daily grain, "
        f"{r.bad.count:,} refused, {report.seconds:.1f} s "
        f"({report.rows_per_second:,.0f} rows/s)"
    )
    print(
        f"  days {r.first_day} … {r.last_day} ({r.day_count} days) · providers: "
        f"{', '.join(r.providers) or '-'}"
    )
    for currency, totals in r.totals.items():
        print(
            f"  {currency}: EffectiveCost {format_money(totals['EffectiveCost'], currency)}"
            f" · BilledCost {format_money(totals['BilledCost'], currency)}"
        )
    for note in report.notes:
        print(f"  {note}")
    if r.rows_replaced:
        print(f"  replaced {r.rows_replaced:,} rows earlier imports held (no doubling)")
    for other in r.replaced_sources:
        print(
            f"  replaced what the earlier import {other.removeprefix('file:')} held for "
            "the same billing periods"
        )
    for other in r.merged_with:
        print(
            f"  merged with the {'amortised' if r.cost_type == 'actual' else 'actual'}-cost "
            f"export {other}: BilledCost from the actual export, EffectiveCost from the "
            "amortised one"
        )
    for warning in r.warnings:
        print(f"  warning: {warning}")
    for column, bad in sorted(r.nulled.items()):
        print(
            f"  {column} unreadable in {bad.count:,} row(s): stored empty, the rows kept "
            f"({bad.describe(3)})"
        )
    if r.bad.count:
        print(
            f"  rows refused (counted from the first data row): {r.bad.describe()}. "
            "Use --strict to refuse such a file instead."
        )
    if r.unreadable_tags:
        print(
            f"  {r.unreadable_tags:,} rows had unreadable Tags: imported as untagged, "
            "the raw text kept"
        )
