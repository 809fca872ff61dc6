"""`digest daily|idle|weekly [--as-of D] [--channel C] [--json] [--post [--force]]`: what
each configured digest would post (its scope met with its channel's access grant); with
no [[digests]], one digest of everything, as the operator sees it. ``--post`` posts the
configured ones through the ledger like the scheduler (once per local date); ``--force``
posts again, recorded."""

from __future__ import annotations

import argparse
import json

from bot.deps import build
from finops_bot.access import Scope, channel_scope
from finops_bot.digest.daily import compose_daily, compose_weekly
from finops_bot.digest.rules import Digest
from finops_bot.errors import UsageError
from finops_bot.questions import Engine
from finops_bot.render.digest import digest_blocks, digest_text
from finops_bot.store import connect
from scheduled.digests import budgeting


def add_parser(sub, common) -> None:
    p = sub.add_parser("digest", parents=[common], help="print what a digest would post (daily)")
    p.add_argument("kind", choices=["daily", "idle", "weekly"])
    p.add_argument("--as-of", help="as if today were YYYY-MM-DD")
    p.add_argument("--channel", help="only the digests of this channel id")
    p.add_argument("--json", action="store_true", help="[{channel, text, blocks, files}]")
    p.add_argument("--chart-dir", metavar="DIR", help="write each digest's chart (PNG) here")
    p.add_argument("--post", action="store_true", help="post them (the ledger: once a day)")
    p.add_argument("--force", action="store_true", help="with --post: post again, recorded")
    p.set_defaults(run=digest)


def slack_sender(client):
    """``send(channel, text, blocks) → ts`` over a Web API client; Slack's not_in_channel
    says how to fix it."""
    from slack_sdk.errors import SlackApiError

    from scheduled.digests import NotInChannel

    def send(channel: str, text: str, blocks: list) -> str:
        try:
            return client.chat_postMessage(channel=channel, text=text[:3000], blocks=blocks)["ts"]
        except SlackApiError as exc:
            if (exc.response or {}).get("error") in ("not_in_channel", "channel_not_found"):
                raise NotInChannel(
                    f"the bot is not in <#{channel}>: invite it there (/invite @finops-bot); "
                    "the next digest posts, and `digest daily --post --force` posts this one"
                ) from None
            raise

    return send


def slack_uploader(client):
    """``upload(png, filename, title, alt) → file id`` with files_upload_v2, no channel."""

    def upload(png: bytes, filename: str, title: str, alt: str) -> str | None:
        response = client.files_upload_v2(content=png, filename=filename, title=title,
                                          alt_txt=alt)  # fmt: skip
        return (response.get("file") or {}).get("id")

    return upload


def digest(args: argparse.Namespace) -> int:
    if args.force and not args.post:
        raise UsageError("--force goes with --post (post again, recorded)")
    deps = build(args.db, args.config, args.as_of)
    if args.post:
        return _post(args, deps)
    db = connect(deps.settings.db_path)
    engine = Engine(db, deps.settings.measure, rules=deps.settings.questions)
    configured = [d for d in deps.settings.digests.digests if d.kind == args.kind]
    if args.channel:
        configured = [d for d in configured if d.channel == args.channel]
        if not configured:
            raise UsageError(f"--channel {args.channel!r}: no {args.kind} [[digests]] posts there")
    if args.kind == "idle":
        return _idle(args, deps, db, configured)
    posts = []
    for d in configured or [None]:
        scope = _scope(deps.settings.access, d)
        compose = compose_weekly if args.kind == "weekly" else compose_daily
        view = engine.view(scope)
        composed = compose(db, view, d.name if d else args.kind, deps.today,
                           deps.answer_now, deps.settings.measure)  # fmt: skip
        budgeting(deps, deps.budgets(db)).add(composed, db, view, deps.today, deps.answer_now,
                            deps.settings.measure)  # fmt: skip
        posts.append(
            {
                "channel": d.channel if d else None,
                "text": digest_text(composed),
                "blocks": digest_blocks(composed),
                "files": _files(composed, args),
            }
        )
    _print(posts, args.json)
    return 0


def _idle(args, deps, db, configured) -> int:
    from finops_bot.digest.idle import compose_idle
    from finops_bot.render.idle_digest import idle_blocks, idle_text

    posts = []
    for d in configured or [None]:
        scope = _scope(deps.settings.access, d)
        now = deps.fleet_now(db)
        idle = compose_idle(db, scope, d.name if d else "idle", now, deps.prices,
                            deps.settings.fleet)  # fmt: skip
        posts.append({"channel": d.channel if d else None, "text": idle_text(idle),
                      "blocks": idle_blocks(idle), "files": []})  # fmt: skip
    _print(posts, args.json)
    return 0


def _print(posts: list[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps(posts, indent=2))
        return
    for post in posts:
        print(f"# to {post['channel'] or '(no channel: everything, as the operator)'}")
        print(post["text"] + "\n")


def _files(composed, args) -> list[dict]:
    """The chart's entry (and, with --chart-dir, the PNG written there)."""
    from pathlib import Path

    from finops_bot.render.digest_chart import chart_alt, chart_filename, chart_png

    if not composed.chart:
        return []
    entry = {"filename": chart_filename(composed), "title": f"{composed.name}: the last 30 days",
             "alt_text": chart_alt(composed)}  # fmt: skip
    if args.chart_dir:
        folder = Path(args.chart_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / entry["filename"]).write_bytes(chart_png(composed))
        except OSError as exc:
            raise UsageError(
                f"--chart-dir {args.chart_dir!r}: cannot write the chart there "
                f"({exc.strerror or exc}); give a folder you may write"
            ) from None
        entry["path"] = str((folder / entry["filename"]).resolve())
    return [entry]


def _scope(policy, d: Digest | None) -> Scope | None:
    """The digest's scope met with its channel's grant (a digest is a visible post)."""
    if d is None:
        return None
    return d.scope.meet(channel_scope(policy, d.channel))


def _post(args: argparse.Namespace, deps) -> int:
    from bot.app import web_client
    from bot.deps import slack_settings
    from scheduled import digests

    configured = [d for d in deps.settings.digests.digests if d.kind == args.kind]
    configured = [d for d in configured if not args.channel or d.channel == args.channel]
    if not configured:
        raise UsageError(f"no {args.kind} [[digests]] to post: add one with a channel id")
    slack = slack_settings(args.config, None, None)
    client = web_client(slack, slack.bot_token)
    send, upload = slack_sender(client), slack_uploader(client)
    for d in configured:
        local = deps.now.astimezone(d.zone).date().isoformat()
        ts = digests.post(deps.settings.db_path, d, local, deps.now, send,
                          access=deps.settings.access, measure=deps.settings.measure,
                          force=args.force, upload=upload,
                          budgets=digests.budgeting(deps))  # fmt: skip
        what = f"posted ({ts})" if ts else "not posted: posted already today, or failed (see log)"
        print(f"{d.name} → {d.channel} for {local}: {what}")
    return 0
