"""The CLI commands: parse arguments, call the core, print. Thin."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from pathlib import Path

from bot.deps import build
from finops_bot.access import scope_from_pairs
from finops_bot.demo import DEMO_QUESTIONS, DEMO_SCOPE, DEMO_SCOPED_QUESTIONS, load_demo
from finops_bot.demo_sample import write_sample
from finops_bot.errors import FinopsError, UsageError
from finops_bot.money import format_money
from finops_bot.render.json import render_json
from finops_bot.render.text import render_text
from finops_bot.store import connect, reads


def demo(args: argparse.Namespace) -> int:
    deps = build(args.db, args.config, args.as_of)
    began = time.perf_counter()
    db = connect(deps.settings.db_path)
    result = load_demo(db, deps.today, deps.now, deps.rules)
    from finops_bot.demo_fleet import load_fleet

    load_fleet(db, deps.answer_now)  # a dozen GPU nodes, an hour of heartbeats to "now"
    seconds = time.perf_counter() - began
    print(
        f"Demo organisation built in {deps.settings.db_path} ({seconds:.1f} s): "
        f"{result.rows_stored:,} daily charge rows, {result.first_day} … {result.last_day}, "
        f"{', '.join(result.providers)}. Re-running replaces it, never doubles it.\n"
    )
    engine = deps.engine(db)
    prog = program()
    as_of = f" --as-of {deps.today}" if args.as_of else ""
    db_flag = f" --db {shlex.quote(str(args.db))}" if args.db else ""
    for question in DEMO_QUESTIONS:
        print(f'$ {prog} ask "{question}"{db_flag}{as_of}')
        print(render_text(engine.ask(question, deps.today, deps.answer_now)))
        print()
    print(
        '# Access: with [access] mode = "scoped" in the config, each channel and person '
        "sees only\n# what they are granted (this demo's cache is open). `ask --scope` "
        "previews a grant; as\n# someone granted only team nlp:\n"
    )
    scope = scope_from_pairs(DEMO_SCOPE)
    flags = " ".join(f"--scope {pair}" for pair in DEMO_SCOPE)
    for question in DEMO_SCOPED_QUESTIONS:
        print(f'$ {prog} ask "{question}" {flags}{db_flag}{as_of}')
        print(render_text(engine.ask(question, deps.today, deps.answer_now, scope=scope)))
        print()
    _demo_anomalies(db, deps, prog, db_flag)
    _demo_digest(db, engine, deps, prog, db_flag, as_of)
    from bot.remediation_commands import demo_section

    demo_section(db, deps, prog, db_flag)
    sample = write_sample(sample_paths(deps.settings.db_path)[0], deps.today)
    print("Try next:")
    for line in next_steps(prog, db_flag, as_of, deps.settings.db_path):
        print(f"  {line}")
    print(
        f"({sample.path} is a FOCUS 1.0 file the demo wrote: {sample.rows} rows of a second "
        f"organisation, {sample.first_day} … {sample.last_day}.)"
    )
    return 0


def _demo_anomalies(db, deps, prog: str, db_flag: str) -> None:
    """Detection over the demo (stored, as serve does), and its backtest by project."""
    from datetime import date

    from bot.anomaly_commands import backtest_lines
    from finops_bot.anomalies import backtest
    from finops_bot.anomalies.run import find, save

    rules, measure = deps.settings.anomalies, deps.settings.measure
    first, last = (date.fromisoformat(d) for d in reads.data_span(db))
    save(db, find(db, rules, last, measure), rules.dimensions, deps.now, measure)
    report = backtest.run(db, rules, first, last, "project", measure)
    print(
        "# Anomalies: every daily usage series checked day by day, one alert per event on "
        "its\n# narrowest subject, with its root cause (`anomalies` lists the open ones):\n"
    )
    print(f"$ {prog} anomalies backtest --from {first} --to {last}{db_flag}")
    print("\n".join(backtest_lines(report)) + "\n")


def _demo_digest(db, engine, deps, prog: str, db_flag: str, as_of: str) -> None:
    from finops_bot.digest.daily import compose_daily
    from finops_bot.render.digest import digest_text

    digest = compose_daily(db, engine.view(None), "daily", deps.today, deps.answer_now,
                           deps.settings.measure)  # fmt: skip
    print("# The daily digest, as it would be posted (to a channel: its grant applies):\n")
    print(f"$ {prog} digest daily{db_flag}{as_of}")
    print(digest_text(digest) + "\n")


def program() -> str:
    """How this command was started, for the lines it suggests: ``finops-bot`` (the console
    script) or ``python -m bot``."""
    return "finops-bot" if Path(sys.argv[0]).stem == "finops-bot" else "python -m bot"


def sample_paths(db_path: Path) -> tuple[Path, Path]:
    """The demo's sample FOCUS file, next to its cache, and the cache to import it into."""
    stem = db_path.name.removesuffix(".db")
    return db_path.with_name(f"{stem}-sample-focus.csv"), db_path.with_name(f"{stem}-sample.db")


def next_steps(prog: str, db_flag: str, as_of: str, db_path: Path) -> list[str]:
    """The demo's "Try next" lines: each runs as printed, in the directory the demo ran in."""
    lines = [
        f'{prog} ask "{q}"{db_flag}{as_of}'
        for q in (
            "top 10 teams this month",
            "compare vision-research this month vs last month",
            "owner carol@acme.ai since monday",
        )
    ]
    lines.append(f'{prog} ask "top 5 projects last month" --json{db_flag}{as_of}')
    lines.append(f"{prog} gpus{db_flag}{as_of}   # the demo's GPU fleet: every state")
    lines.append(f"{prog} digest idle{db_flag}{as_of}")
    lines.append(f"{prog} anomalies{db_flag}{as_of}")
    lines.append(f"{prog} proposals{db_flag}   # the remediation proposals the demo made")
    lines.append(f"{prog} budgets{db_flag}{as_of}   # the demo's budgets: spent, forecast, at risk")
    sample, sample_db = (shlex.quote(str(p)) for p in sample_paths(db_path))
    lines.append(f"{prog} import {sample} --db {sample_db}   # a cache of its own: the demo stays")
    lines.append(f'{prog} ask "top 5 services last month" --db {sample_db}{as_of}')
    return lines


def ask(args: argparse.Namespace) -> int:
    deps = build(args.db, args.config, args.as_of)
    db = connect(deps.settings.db_path)
    now = deps.fleet_now(db)  # the demo's fleet is seen when it was built, not gone silent
    answer = deps.engine(db).ask(
        " ".join(args.question), deps.today, now, scope=_preview(args, deps)
    )

    chart_dir = getattr(args, "chart_dir", None)
    files = []
    if args.json or chart_dir:  # a series' chart, written beside the cache (or --chart-dir)
        folder = Path(chart_dir) if chart_dir else deps.settings.db_path.parent / "charts"
        files = _chart_files(answer, folder)
    if args.json:
        print(render_json(answer, files))
    else:
        print(render_text(answer))
        print("".join(f"Chart: {f['path']}\n" for f in files), end="")
    return 0 if answer.kind not in ("error",) else 1


def _preview(args: argparse.Namespace, deps):
    """``--channel`` / ``--scope``: the operator previews what an audience sees (the CLI
    itself sees everything)."""
    from finops_bot.access import channel_scope, scope_from_pairs

    contact = deps.settings.access.contact
    if getattr(args, "scope", None):
        try:
            return scope_from_pairs(args.scope, contact)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if getattr(args, "channel", None):
        if not re.fullmatch(r"[CGD][A-Z0-9]{2,}", args.channel):
            raise UsageError(f"--channel {args.channel!r}: give a Slack channel id, e.g. C0NLP")
        if deps.settings.access.open:
            print(
                "note: [access] mode is open, so every channel sees everything; set "
                'mode = "scoped" and [[access.grants]] to limit it',
                file=sys.stderr,
            )
        return channel_scope(deps.settings.access, args.channel)
    return None


def _chart_files(answer, folder) -> list[dict]:
    """A series answer's chart as a PNG in ``folder``: its ``files`` entry; [] for other
    answers, or when the file cannot be written (said on stderr: the answer still prints)."""
    from finops_bot.render.charts import chart_alt, chart_filename, chart_png, has_chart

    if not has_chart(answer):
        return []
    try:
        png = chart_png(answer)
        folder.mkdir(parents=True, exist_ok=True)
        path = (folder / chart_filename(answer)).resolve()
        path.write_bytes(png)
    except OSError as exc:
        print(f"warning: the chart was not written to {folder}: {exc}", file=sys.stderr)
        return []
    title = answer.title or "Chart"
    return [{"path": str(path), "mimetype": "image/png", "title": title,
             "alt_text": chart_alt(answer), "bytes": len(png)}]  # fmt: skip


def status(args: argparse.Namespace) -> int:
    deps = build(args.db, args.config)
    db = connect(deps.settings.db_path)
    rows = db.execute(
        "SELECT name, kind, first_day, last_day, rows, loaded_at FROM sources ORDER BY name"
    ).fetchall()
    sources = f"{len(rows)} source{'' if len(rows) == 1 else 's'}"
    print(f"Cache {deps.settings.db_path}: {sources}; measure {deps.settings.measure}.")
    if not rows and not deps.settings.sources:
        print("No billing data yet: python -m bot demo, or python -m bot import FILE.")
    for name, kind, first, last, count, loaded in rows:
        print(
            f"  {name} [{kind}] {count:,} rows, {first} … {last}, data through {last}, "
            f"loaded {loaded}"
        )
    fresh = reads.freshness(db)
    if fresh:
        print("Data through, per provider and source:")
        for f in fresh:
            print(f"  {f.provider}: {f.data_through} ({f.source}, loaded {f.loaded_at})")
    synced = {
        r[0]: r
        for r in db.execute(
            "SELECT name, last_success_at, last_error, last_error_at, api_calls_last, "
            "api_calls_total, rows_last FROM source_status"
        ).fetchall()
    }
    for config in deps.settings.sources:
        s = synced.get(config.name)
        line = f"  sync {config.name} [{config.type}] every {config.interval_hours:g} h: "
        if s is None:
            print(line + "never synced (python -m bot sync)")
            continue
        _, ok_at, error, error_at, calls, total, rows_last = s
        line += f"last success {ok_at or 'never'}, {rows_last:,} rows, "
        line += f"API calls last {calls} / total {total}"
        if config.type == "aws_cost_explorer":
            line += f" (USD {total * 0.01:.2f} at 0.01 each)"
        print(line)
        if error and (not ok_at or (error_at or "") > ok_at):
            print(f"    last error {error_at}: {error}")
    _digest_status(db, deps)
    return 0


def _digest_status(db, deps) -> None:
    """Digests that could not be posted in the last two days, with the fix."""
    from datetime import timedelta

    from finops_bot.store import ledger

    since = (deps.now - timedelta(days=2)).isoformat(timespec="seconds")
    for name, target, day, error in ledger.problems(db, since):
        print(f"  digest {name} to {target} for {day} not posted: {error}")


def run_sync(deps, names: list[str] | None = None, since=None, wait=None) -> list:
    """Sync the configured sources (all, or ``names``); one connection per call. ``wait``:
    a WriteWait for another import or sync holding the cache (default: 600 s, silent)."""
    from bot.deps import cloud_factories
    from finops_bot.sources import build_source
    from finops_bot.sources.sync import refresh_source, sync_source
    from finops_bot.store.db import WriteWait

    configs = [c for c in deps.settings.sources if not names or c.name in names]
    wait = wait or WriteWait()
    db = connect(deps.settings.db_path, busy_seconds=wait.seconds)
    results = []
    factories = cloud_factories()
    try:
        for config in configs:
            source = build_source(config, factories)
            if hasattr(source, "refresh"):
                results.append(refresh_source(db, source, now=deps.now))
                continue
            results.append(
                sync_source(
                    db,
                    source,
                    today=deps.today,
                    now=deps.now,
                    rules=deps.rules,
                    refresh_days=config.refresh_days,
                    since=since,
                    wait=wait,
                )
            )
    finally:
        db.close()
    return results


def sync(args: argparse.Namespace) -> int:
    from bot.deps import parse_as_of

    deps = build(args.db, args.config)
    if not deps.settings.sources:
        raise FinopsError("no [[sources]] in the config file; see README, Billing sources")
    known = [c.name for c in deps.settings.sources]
    if args.source and args.source not in known:
        raise FinopsError(
            f"--source {args.source!r}: no such source; configured: {', '.join(known)}"
        )
    since = parse_as_of(args.since, "--since")
    from bot.importing import once, waiting_line
    from finops_bot.store.db import WriteWait

    wait = WriteWait(args.wait, once(waiting_line))
    results = run_sync(deps, [args.source] if args.source else None, since, wait)
    for r in results:
        span = f"{r.windows[0].start} … {r.windows[-1].end}" if r.windows else "metadata"
        if r.ok:
            print(
                f"{r.source}: synced {span}, {r.rows:,} rows, {r.api_calls} API call(s), "
                f"{r.seconds:.1f} s"
            )
        else:
            print(f"{r.source}: FAILED after {r.api_calls} API call(s): {r.error}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


def serve(args: argparse.Namespace) -> int:
    """Socket Mode when SLACK_APP_TOKEN is set, else HTTP; /healthz in both (bot.serving)."""
    from bot.serving import serve as run

    return run(args)


def agent_token(args: argparse.Namespace) -> int:
    from finops_bot.gpu.tokens import create_token, list_tokens, revoke_token

    deps = build(args.db, args.config)
    db = connect(deps.settings.db_path)
    if args.action == "create":
        if not args.name:
            raise FinopsError("agent-token create needs --name NAME")
        token = create_token(db, args.name, deps.now, can_claim=args.can_claim)
        print(token)
        print(
            f"Token {args.name!r} created. It is shown only now: put it in the node's "
            "--token-file.",
            file=sys.stderr,
        )
    elif args.action == "list":
        rows = list_tokens(db)
        if not rows:
            print("No agent tokens: python -m bot agent-token create --name NAME")
        for name, created, revoked, claim, nodes in rows:
            status = f"REVOKED {revoked}" if revoked else "active"
            extra = ", may claim nodes" if claim else ""
            print(f"{name}  created {created}  {status}  {nodes} node(s){extra}")
    else:
        if not args.name:
            raise FinopsError("agent-token revoke needs --name NAME")
        revoke_token(db, args.name, deps.now)
        print(f"Token {args.name!r} revoked: its nodes get 401 from now on.")
    return 0


STATE_WORDS = {"idle, memory held": "idle+mem"}  # the table fits 100 columns


def _fit(text: str, width: int) -> str:
    return (text if len(text) <= width else text[: width - 1] + "…").ljust(width)


def gpus(args: argparse.Namespace) -> int:
    """The GPU fleet, one node a line in under 100 columns: node, owner, project, idle GPUs,
    state, since, $/h, waste $/h and wasted $ so far (idle GPUs; a stalled node whole)."""
    from finops_bot.gpu.fleet import fleet, price_bases
    from finops_bot.gpu.prices import PRICE_ORDER

    deps = build(args.db, args.config, getattr(args, "as_of", None))
    db = connect(deps.settings.db_path)
    nodes = fleet(db, deps.answer_now, deps.prices, deps.settings.fleet, idle_only=args.idle)
    if args.idle:
        nodes = [n for n in nodes if n.state not in ("busy", "silent")]
        if not nodes:
            print(f"No idle or stalled GPUs now ({deps.settings.fleet.describe()} is idle).")
            return 0
    if not nodes:
        print(
            "No GPU heartbeats yet. On each node: python finops_agent.py --url URL "
            "--token-file FILE (token: python -m bot agent-token create --name NAME)."
        )
        return 0
    print(
        f"{'node':<13} {'owner':<11} {'project':<15} {'idle':>5} {'state':<11} "
        f"{'since (UTC)':<11} {'$/h':>8} {'waste/h':>8} {'wasted':>9}"
    )
    for n in nodes:
        idle = sum(g.idle for g in n.gpus)
        money = [
            format_money(v, "USD") if v is not None else "?"
            for v in (
                n.hourly,
                n.waste_hourly,
                n.idle_dollars(deps.answer_now.replace(tzinfo=None)),
            )
        ]
        print(
            f"{_fit(n.hostname, 13)} {_fit(n.owner or '-', 11)} {_fit(n.project or '-', 15)} "
            f"{f'{idle}/{len(n.gpus)}':>5} {STATE_WORDS.get(n.state, n.state):<11} "
            f"{n.since:%m-%d %H:%M} {money[0]:>8} {money[1]:>8} {money[2]:>9}"
        )
    unknown = sorted({n.instance_type or "?" for n in nodes if n.hourly is None})
    if any(n.state == "idle, memory held" for n in nodes):
        print("idle+mem: idle, and a process still holds GPU memory.")
    silent = [n for n in nodes if n.state == "silent"]
    if silent:
        count = "1 silent node" if len(silent) == 1 else f"{len(silent)} silent nodes"
        print(f"{count} stopped reporting: they may still be billing.")
    print(
        f"Idle: {deps.settings.fleet.describe()}. Prices: {price_bases(nodes) or PRICE_ORDER}"
        + (f"; no price for {', '.join(unknown)} (add it under [gpu_prices])" if unknown else "")
        + "."
    )
    return 0
