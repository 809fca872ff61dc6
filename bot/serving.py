"""`serve`: the Slack app (Socket Mode when SLACK_APP_TOKEN is set, else HTTP), /healthz,
/v1/heartbeats and the scheduler, built once and run until SIGTERM.

Logging goes to stderr, one line a record, at FINOPS_BOT_LOG_LEVEL (default INFO): one line
per Slack request (bot.app), one counter line per minute for heartbeats
(handlers.http.heartbeats), one per sync run, and the warnings and errors."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import signal
import threading
from datetime import UTC

from bot.clock import real_now
from bot.deps import Deps, build, slack_settings
from bot.people import People
from finops_bot.access import AccessPolicy
from finops_bot.config import SlackSettings
from finops_bot.questions.words import counted
from finops_bot.store import connect

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def serve(args: argparse.Namespace) -> int:
    """Socket Mode when SLACK_APP_TOKEN is set, else HTTP; /healthz in both."""
    from bot.answers import AnswerService
    from bot.app import SlackDeps, build_app
    from bot.health import CacheHealth
    from bot.server import start_server

    logging.basicConfig(level=os.environ.get("FINOPS_BOT_LOG_LEVEL", "INFO"), format=LOG_FORMAT)
    deps = build(args.db, args.config)
    slack = slack_settings(args.config, args.host, args.port)
    connect(deps.settings.db_path).close()  # create / migrate the cache before serving
    answers = AnswerService(
        deps.settings.db_path,
        deps.settings.measure,
        today=lambda: real_now().date(),
        prices=deps.prices,
        fleet_rules=deps.settings.fleet,
        rules=deps.settings.questions,
        people=people(slack, deps.settings.questions.people),
        access=deps.settings.access,
        budgets=_answer_budgets(deps),
    )
    from bot.feedback import Feedback

    feedback = Feedback(deps.settings.db_path, deps.settings.access, answers.people,
                        deps.settings.digests, real_now)  # fmt: skip
    from bot.remediation import service_of

    fixes = service_of(deps, answers.people)
    app = build_app(slack, SlackDeps(answers, feedback=feedback, remediation=fixes))
    handler = None
    if slack.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(app, slack.app_token)
    checks = CacheHealth(deps.settings.db_path, real_now)
    router, heartbeats = _routes(deps, slack, app, answers, checks, handler)
    stop = threading.Event()  # before anything is announced: SIGTERM always stops cleanly
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gc.freeze()  # the long-lived startup objects leave the collector's scans: no long pauses
    server, _ = start_server(slack.host, slack.port, router)
    host, port = server.server_address[:2]
    mode = "Socket Mode" if slack.socket_mode else f"HTTP: POST http://{host}:{port}/slack/events"
    print(
        f"finops-bot serving ({mode}); health: http://{host}:{port}/healthz; "
        f"cache {deps.settings.db_path}",
        flush=True,
    )
    print(access_line(deps.settings.access, slack.verify_token), flush=True)
    if handler is not None:
        handler.connect()
    scheduler = _scheduler(args, deps, checks, slack, answers.people)
    if fixes.rules.active:
        _remediation_jobs(scheduler, fixes, slack, answers.people)
    print(remediation_line(fixes.rules, demo=_built_by_demo(deps)), flush=True)
    scheduler.start()
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.shutdown()
    heartbeats.counts.log()  # the last minute's counts; the loop has stopped
    scheduler.shutdown(wait=False)
    if handler is not None:
        handler.close()
    print("finops-bot stopped", flush=True)
    return 0


def access_line(policy: AccessPolicy, slack_api: bool) -> str:
    """What serve says about who may see what, once at start."""
    if policy.open:
        return (
            "access: open (everyone in the workspace sees every cost; "
            '[access] mode = "scoped" limits it)'
        )
    line = (
        f"access: scoped ({counted(len(policy.rules), 'grant')}, "
        f"{counted(len(policy.admins), 'admin id')}); "
        "guests and other workspaces' users get only user grants"
    )
    if not slack_api:
        line += (
            "; WARNING: with FINOPS_BOT_VERIFY_TOKEN=false nobody's identity can be looked "
            "up, so everyone gets only the grants that name them"
        )
    return line


def _answer_budgets(deps: Deps):
    """The budgets answers know: the config's; for a cache the demo built and a config
    with none, the demo's (answers only: the ladder job never posts the demo's)."""
    db = connect(deps.settings.db_path)
    try:
        return deps.budgets(db)
    finally:
        db.close()


def _built_by_demo(deps: Deps) -> bool:
    from finops_bot.store.reads import demo_fleet_end

    db = connect(deps.settings.db_path)
    try:
        return demo_fleet_end(db) is not None
    finally:
        db.close()


def remediation_line(rules, demo: bool = False) -> str:
    """What serve says about remediation, once at start."""
    if not rules.configured:
        return "remediation: off (no [remediation] table; README, Remediation)"
    if not rules.enabled:
        return "remediation: switched off ([remediation] enabled = false)"
    mode = "DRY RUN (nothing is executed)" if rules.dry_run else "LIVE (clicks stop instances)"
    if demo:
        mode += " on the demo's in-memory cloud (this cache was built by the demo)"
    return (
        f"remediation: {mode}; proposals after {rules.propose_after_minutes} idle minutes, "
        f"at most {rules.max_actions_per_hour} actions an hour per account"
    )


def _remediation_jobs(scheduler, fixes, slack: SlackSettings, people: People | None) -> None:
    from bot.app import web_client
    from scheduled import remediation

    client = web_client(slack, slack.bot_token)

    def post(user: str, text: str, blocks: list) -> tuple[str, str]:
        sent = client.chat_postMessage(channel=user, text=text[:3000], blocks=blocks)
        return sent["channel"], sent["ts"]

    def update(channel: str, ts: str, text: str, blocks: list) -> None:
        client.chat_update(channel=channel, ts=ts, text=text[:3000], blocks=blocks)

    user_of = people.user_of if people else (lambda email: None)
    remediation.register(scheduler, fixes, real_now, post, update, user_of)


def people(slack: SlackSettings, table) -> People:
    """Emails of Slack users: [people] first, else users.info with the bot token (none
    when Slack's API is off: FINOPS_BOT_VERIFY_TOKEN=false)."""
    from bot.app import web_client

    if not slack.verify_token:
        return People(None, table)
    return People(lambda: web_client(slack, slack.bot_token), table)


def _routes(deps: Deps, slack: SlackSettings, app, answers, checks, handler):
    """The router (/healthz, /v1/heartbeats, /agent.py, /slack/events in HTTP mode) and the
    heartbeats route (serve logs its last counts at stop)."""
    from handlers import http
    from handlers.http.heartbeats import HeartbeatsRoute
    from handlers.http.routing import Router

    def heartbeat_write(error: BaseException | None) -> None:
        if error is None:
            checks.write_ok("heartbeats")
        else:
            checks.write_failed("heartbeats", error)

    heartbeats = HeartbeatsRoute(
        deps.settings.db_path, now=real_now, rules=deps.settings.fleet, on_write=heartbeat_write
    )
    router = Router()
    http.register(
        router,
        health=answers.healthy,
        socket_connected=handler.client.is_connected if handler is not None else None,
        app=None if slack.socket_mode else app,
        signing_secret=slack.signing_secret,
        clock=lambda: real_now().timestamp(),
        heartbeats=heartbeats,
        cache_checks=checks.report,
    )
    return router, heartbeats


def _scheduler(args: argparse.Namespace, deps: Deps, checks, slack=None, people=None):
    """Heartbeat retention and the cache's quick_check hourly; each billing source's sync
    every interval_hours (fresh settings, clock and connection each run)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from bot.commands import run_sync
    from bot.importing import once
    from finops_bot.store.db import WriteWait
    from scheduled import anomalies, billing, fleet, health

    scheduler = BackgroundScheduler(timezone=UTC)
    fleet.register(scheduler, deps.settings.db_path, deps.settings.fleet.retention_days, real_now)
    health.register(scheduler, checks, real_now, first_run=real_now())
    detector = anomalies.Detector(
        deps.settings.db_path, deps.settings.anomalies, deps.settings.measure
    )
    anomalies.register(scheduler, detector, real_now, first_run=real_now())
    if slack is not None and deps.settings.digests.digests:
        from bot.app import web_client
        from bot.digest_commands import slack_sender, slack_uploader
        from scheduled import digests

        client = web_client(slack, slack.bot_token)
        owners = digests.Owners(
            deps.settings.digests, people.user_of if people else (lambda email: None)
        )
        digests.register(scheduler, deps.settings.db_path, deps.settings.digests.digests,
                         slack_sender(client), deps.settings.access, deps.settings.measure,
                         real_now, slack_uploader(client), owners,
                         digests.budgeting(deps))  # fmt: skip
        print(f"{len(deps.settings.digests.digests)} digest(s) scheduled", flush=True)
    if slack is not None and deps.settings.digests.alerts.channel:
        from bot.app import web_client
        from bot.digest_commands import slack_sender
        from scheduled import alerts

        sender = slack_sender(web_client(slack, slack.bot_token))
        user_of = people.user_of if people else (lambda email: None)
        alerts.register(scheduler, lambda: alerts.check(
            deps.settings.db_path, deps.settings.digests, real_now(), sender, user_of,
            deps.prices, deps.settings.fleet, deps.settings.access))  # fmt: skip
    if slack is not None and deps.settings.budgets.budgets:
        from bot.app import web_client
        from bot.digest_commands import slack_sender
        from scheduled import budgets

        sender = slack_sender(web_client(slack, slack.bot_token))
        user_of = people.user_of if people else (lambda email: None)
        s = deps.settings
        fiscal = s.questions.fiscal_start
        budgets.register(scheduler, lambda: budgets.check(
            s.db_path, s.budgets, s.digests, real_now(), sender, user_of, measure=s.measure,
            fiscal_start=fiscal, prices=deps.prices, access=s.access))  # fmt: skip
        print(f"{len(s.budgets.budgets)} budget(s) checked every 15 minutes", flush=True)
    if not deps.settings.sources:
        return scheduler
    log = logging.getLogger("finops_bot.sync")

    def sync_one(name: str) -> None:  # runs in a worker thread
        told = once(lambda: log.info("%s: waiting for another import or sync", name))
        for r in run_sync(build(args.db, args.config), [name], wait=WriteWait(600, told)):
            if r.cache_error:
                checks.write_failed(f"billing sync {r.source}", r.error)
            else:
                checks.write_ok(f"billing sync {r.source}")
            log.log(
                logging.INFO if r.ok else logging.ERROR,
                "%s: %s",
                r.source,
                f"{r.rows} rows, {r.api_calls} API calls" if r.ok else r.error,
            )
        anomalies.detect_now(detector, real_now())  # after each sync (no-op if unchanged)

    billing.register(scheduler, deps.settings.sources, sync_one, first_run=real_now())
    print(f"billing sync scheduled for {len(deps.settings.sources)} source(s)", flush=True)
    return scheduler
