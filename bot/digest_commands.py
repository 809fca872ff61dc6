"""`digest daily [--as-of D] [--channel C] [--json]`: what each configured daily digest
would post (its scope met with its channel's access grant); with no [[digests]], one
digest of everything, as the operator sees it. Posting, the ledger and the schedule, and
the idle and weekly digests, are not built yet."""

from __future__ import annotations

import argparse
import json

from bot.deps import build
from finops_bot.access import Scope, channel_scope
from finops_bot.digest.daily import compose_daily
from finops_bot.digest.rules import Digest
from finops_bot.errors import UsageError
from finops_bot.questions import Engine
from finops_bot.render.digest import digest_blocks, digest_text
from finops_bot.store import connect


def add_parser(sub, common) -> None:
    p = sub.add_parser("digest", parents=[common], help="print what a digest would post (daily)")
    p.add_argument("kind", choices=["daily", "idle", "weekly"])
    p.add_argument("--as-of", help="as if today were YYYY-MM-DD")
    p.add_argument("--channel", help="only the digests of this channel id")
    p.add_argument("--json", action="store_true", help="[{channel, text, blocks, files}]")
    p.set_defaults(run=digest)


def digest(args: argparse.Namespace) -> int:
    if args.kind != "daily":
        raise UsageError(f"digest {args.kind}: not built yet; `digest daily` is")
    deps = build(args.db, args.config, args.as_of)
    db = connect(deps.settings.db_path)
    engine = Engine(db, deps.settings.measure, rules=deps.settings.questions)
    configured = [d for d in deps.settings.digests.digests if d.kind == "daily"]
    if args.channel:
        configured = [d for d in configured if d.channel == args.channel]
        if not configured:
            raise UsageError(f"--channel {args.channel!r}: no daily [[digests]] posts there")
    posts = []
    for d in configured or [None]:
        scope = _scope(deps.settings.access, d)
        composed = compose_daily(db, engine.view(scope), d.name if d else "daily", deps.today,
                                 deps.answer_now, deps.settings.measure)  # fmt: skip
        posts.append({"channel": d.channel if d else None, "text": digest_text(composed),
                      "blocks": digest_blocks(composed), "files": []})  # fmt: skip
    if args.json:
        print(json.dumps(posts, indent=2))
    else:
        for post in posts:
            print(f"# to {post['channel'] or '(no channel: everything, as the operator)'}")
            print(post["text"] + "\n")
    return 0


def _scope(policy, d: Digest | None) -> Scope | None:
    """The digest's scope met with its channel's grant (a digest is a visible post)."""
    if d is None:
        return None
    return d.scope.meet(channel_scope(policy, d.channel))
