"""Remediation: how fast a click on a proposal card is acked, and what the idle sweep costs
over a large fleet.

    python bench/bench_remediation.py [--clicks 800] [--clients 8] [--nodes 2000]
                                      [--minutes 40] [--step 1]

1. Click acks. The real Bolt app (bot.app.build_app, SlackDeps with a Remediation service
   on an injected DemoCloud.of_demo_fleet()), served by the project's HTTP server
   (bot.server.start_server + handlers.http.register) on loopback, with the fake Slack Web
   API of tests/fake_slack.py (users.info / auth.test answered, so the clicker U0OPS is a
   workspace member and, by [remediation] approvers, an approver). The cache is the demo
   (load_demo + load_fleet); the proposals come from service.sweep(NOW), dry run. Signed
   block_actions clicks (the cards' own Stop and Snooze buttons) go out from ``--clients``
   threads on keep-alive connections; each proposal gets mostly one kind of click, so after
   its first click the rest are refused ("already planned …", "snoozed by …", "out of
   date"). The figure is the time to the HTTP response: the ack. The listener is lazy, so
   the decision, the cloud read and the card redraw (response_url) come after it; the run
   also waits for that work to drain (every click's response_url post at the fake Slack)
   and tallies what those posts said. Each variant gets a copy of the same cache:
     * lazy, as shipped: build_app as serve builds it. Bolt deep-copies the context for a
       lazy listener and drops what it cannot copy; SlackDeps holds AnswerService (a
       threading.local), so context["finops"] is gone and fix_click fails with
       KeyError('finops'): the acks are measured, the work never happens (counted from
       Bolt's log lines, "bolt_log").
     * lazy, deps shared: the same app, with a bench-only SlackDeps subclass whose
       __deepcopy__ returns itself, so the lazy work runs as intended (what a fix gives).
     * eager (baseline): a second Bolt app whose listener does that work before it acks
       (handlers.actions.remediation's fix_click, then ack()).
     * GET /healthz on the first server: the floor.
2. Sweep. A fresh SQLite cache gets ``--minutes`` of heartbeats (one batch every ``--step``
   minutes) from ``--nodes`` 8-GPU AWS nodes through the real write path
   (validate_batch + store_batches, one transaction per minute of the fleet): 90% idle the
   whole time, 5% busy, 5% idle only for the last 10 minutes. Then
   finops_bot.remediation.sweep.sweep(db, now, rules, cloud, PriceBook()) with an in-memory
   DemoCloud that knows every instance (owner tags): the first sweep (every candidate is
   new: a cloud read, an insert and an audit row each) and a second (nothing new: the
   steady state).

Prints one JSON line per measurement, then a short summary with the targets.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import logging
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # the repo's tests hold the fake Slack and the sample batch

from bot.answers import AnswerService  # noqa: E402
from bot.app import LoggedApp, SlackDeps, build_app, make_authorize, web_client  # noqa: E402
from bot.people import People  # noqa: E402
from bot.remediation import Remediation  # noqa: E402
from bot.server import start_server  # noqa: E402
from finops_bot.access import AccessPolicy  # noqa: E402
from finops_bot.config import SlackSettings  # noqa: E402
from finops_bot.gpu.prices import PriceBook  # noqa: E402
from finops_bot.remediation.demo_cloud import DemoCloud, DemoInstance  # noqa: E402
from finops_bot.remediation.registry import Target  # noqa: E402
from finops_bot.remediation.rules import parse_remediation  # noqa: E402
from finops_bot.render.proposals import FIX_SNOOZE, FIX_STOP, proposal_blocks  # noqa: E402
from finops_bot.store import connect  # noqa: E402
from handlers import http as http_routes  # noqa: E402
from handlers.actions.remediation import fix_click  # noqa: E402
from handlers.http.routing import Router  # noqa: E402
from tests.fake_slack import FakeSlack  # noqa: E402
from tests.handlers.test_heartbeats import good_batch  # noqa: E402

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)  # the tests' pinned now
TODAY = date(2026, 11, 22)
SECRET = "bench-signing-secret"
CLICKER = "U0OPS"  # an approver by the rules below
RULES = {"propose_after_minutes": 30, "approvers": [CLICKER]}
VARIANTS = {
    "lazy": "lazy, as shipped (acks, then works)",
    "lazy-shared": "lazy, deps shared (bench shim)",
    "eager": "eager: works, then acks (baseline)",
}
TARGETS = ("target: p99 < 100 ms with 8 concurrent clicks", "target: sweep over 2,000 nodes < 1 s")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(int(len(values) * q), len(values) - 1)], 1) if values else 0.0


def figures(lat: list[float], seconds: float) -> dict:
    return {
        "p50_ms": pct(lat, 0.5),
        "p95_ms": pct(lat, 0.95),
        "p99_ms": pct(lat, 0.99),
        "max_ms": round(max(lat), 1) if lat else 0.0,
        "per_s": round(len(lat) / seconds) if seconds else 0,
    }


# -- 1. click acks ------------------------------------------------------------------------


def demo_cache(folder: Path) -> Path:
    from finops_bot.demo import load_demo
    from finops_bot.demo_fleet import load_fleet
    from finops_bot.ingest.tags import TagRules

    path = folder / "demo.db"
    db = connect(path)
    load_demo(db, TODAY, NOW, TagRules({"project": ("project",), "team": ("team",),
                                        "owner": ("owner",)}))  # fmt: skip
    load_fleet(db, NOW)
    db.close()
    return path


def copy_cache(src: Path, dst: Path) -> Path:
    """A consistent copy (WAL included), so both apps start from the same proposals."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    return dst


def settings_for(fake: FakeSlack) -> SlackSettings:
    return SlackSettings(
        bot_token="xoxb-bench",
        signing_secret=SECRET,
        app_token=None,
        api_url=fake.url + "/api/",
        verify_token=False,
        host="127.0.0.1",
        port=0,
    )


def service_for(db_path: Path, settings: SlackSettings) -> Remediation:
    people = People(lambda: web_client(settings, settings.bot_token))
    return Remediation(
        db_path,
        parse_remediation(RULES),
        AccessPolicy(),
        people,
        PriceBook(),
        clouds=DemoCloud.of_demo_fleet(),
    )


def eager_app(settings: SlackSettings, deps: SlackDeps):
    """A second Bolt app like build_app's, whose fix listener does the work inside the
    ack: fix_click (the service, the card redraw), then ack()."""
    app = LoggedApp(
        client=web_client(settings),
        authorize=make_authorize(settings),
        signing_secret=SECRET,
        logger=logging.getLogger("finops_bot.slack"),
    )

    @app.middleware
    def finops(req, resp, next):  # noqa: A002 - Bolt's name
        req.context["finops"] = deps
        return next()

    def fix_inside_ack(ack, action, body, context, client, respond, logger) -> None:
        fix_click(action, body, context, client, respond, logger)
        ack()

    app.action(re.compile(rf"^({FIX_STOP}|{FIX_SNOOZE})$"))(fix_inside_ack)
    return app


class Served:
    """One Bolt app behind the project's HTTP server on loopback."""

    def __init__(self, app, answers: AnswerService):
        router = Router()
        http_routes.register(
            router,
            health=answers.healthy,
            socket_connected=None,
            app=app,
            signing_secret=SECRET,
            clock=time.time,
        )
        self.server, _ = start_server("127.0.0.1", 0, router)
        self.port = self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()


def buttons(proposals) -> list[dict[str, dict]]:
    """Each proposal's Stop and Snooze buttons, as its card (at NOW) has them."""
    out = []
    for p in proposals:
        found = {}
        for block in proposal_blocks(p, NOW):
            for element in block.get("elements", []):
                if element.get("action_id") in (FIX_STOP, FIX_SNOOZE):
                    found[element["action_id"]] = element
        out.append(found)
    return out


def click_plan(count: int, cards: list[dict[str, dict]]) -> list[dict]:
    """Round robin over the proposals; even ones get Stop clicks, odd ones Snooze, and every
    fourth round the other kind."""
    plan = []
    for i in range(count):
        j = i % len(cards)
        stop = (j % 2 == 0) != ((i // len(cards)) % 4 == 3)
        plan.append(cards[j][FIX_STOP if stop else FIX_SNOOZE])
    return plan


def signed_clicks(plan: list[dict], fake_url: str, run: str) -> list[tuple[bytes, dict]]:
    """Signed block_actions bodies, one response_url each (so the lazy work can be
    counted as it lands at the fake Slack)."""
    verifier, out = SignatureVerifier(SECRET), []
    ts = str(int(time.time()))
    for n, button in enumerate(plan):
        payload = {
            "type": "block_actions",
            "user": {"id": CLICKER, "name": "ops"},
            "team": {"id": "T111"},
            "channel": {"id": "C111"},
            "api_app_id": "A111",
            "response_url": f"{fake_url}/actions/T111/{run}-{n}/resp",
            "trigger_id": f"1.2.{n}",
            "container": {"type": "message", "is_ephemeral": True},
            "actions": [{**button, "block_id": "b", "action_ts": f"1700000000.{n}"}],
        }
        body = urlencode({"payload": json.dumps(payload)})
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": verifier.generate_signature(timestamp=ts, body=body),
        }
        out.append((body.encode(), headers))
    return out


def drive(port: int, requests: list[tuple[str, bytes | None, dict]], clients: int) -> dict:
    """``clients`` threads, one keep-alive connection each, taking requests in turn."""
    taken = itertools.count()
    lat: list[float] = []
    bad: Counter = Counter()
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while (i := next(taken)) < len(requests):
            method, body, headers = requests[i]
            path = "/slack/events" if method == "POST" else "/healthz"
            began = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            mine.append((time.perf_counter() - began) * 1000)
            if resp.status != 200:
                with lock:
                    bad[resp.status] += 1
        conn.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return {"lat": lat, "seconds": elapsed, "errors": dict(bad), "done_at": time.monotonic()}


def outcomes(fake: FakeSlack, run: str) -> tuple[int, Counter]:
    """(clicks whose response_url was posted to, what those posts said)."""
    prefix = f"/actions/T111/{run}-"
    said: Counter = Counter()
    seen = set()
    for call in list(fake.calls):
        if not call["path"].startswith(prefix):
            continue
        seen.add(call["path"])
        body = call["body"]
        text = str(body.get("text") or "")
        if body.get("blocks"):
            said["card redrawn"] += 1
        elif text.startswith("Already "):
            said[f"already {text.split()[1]}"] += 1
        elif text.startswith("Snoozed by"):
            said["snoozed by …"] += 1
        elif "out of date" in text:
            said["card out of date"] += 1
        else:
            said[text[:50]] += 1
    return len(seen), said


def wait_drained(fake: FakeSlack, run: str, count: int, quiet: float = 3.0) -> float | None:
    """When every click's response_url post had arrived (time.monotonic()); None when
    none more came for ``quiet`` seconds before that."""
    last, seen = time.monotonic(), 0
    while time.monotonic() - last < quiet:
        now_seen = outcomes(fake, run)[0]
        if now_seen >= count:
            return time.monotonic()
        if now_seen > seen:
            last, seen = time.monotonic(), now_seen
        time.sleep(0.02)
    return None


class SharedDeps(SlackDeps):
    """Bench shim, not the app's code: deps that Bolt's lazy-request deep copy hands over
    as they are (the shipped SlackDeps holds a threading.local, so the copy drops it)."""

    def __deepcopy__(self, memo):
        return self


class LazyFailures(logging.Handler):
    """Counts Bolt's lines about the lazy listener's lost context (and its failures);
    passes every other record on to stderr."""

    def __init__(self):
        super().__init__()
        self.counts: Counter = Counter()
        self.rest = logging.StreamHandler()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith("Skipped setting 'finops'"):
            self.counts["context 'finops' dropped by the lazy copy"] += 1
        elif text.startswith("Failed to run an internal function"):
            self.counts[f"lazy listener failed: {text[35:]}"] += 1
        else:
            self.rest.emit(record)


def click_bench(args, folder: Path) -> list[dict]:
    fake = FakeSlack()
    fake.answers["/api/auth.test"] = lambda body: {"ok": True, "team_id": "T111",
                                                   "user_id": "UBOT"}  # fmt: skip
    fake.answers["/api/users.info"] = lambda body: {
        "ok": True,
        "user": {"id": body.get("user"), "team_id": "T111",
                 "profile": {"email": "ops@acme.ai"}},
    }  # fmt: skip
    settings = settings_for(fake)
    base = demo_cache(folder)
    sweep = service_for(base, settings).sweep(NOW)
    proposals = list(sweep.proposed)
    print(json.dumps({"bench": "remediation_setup", "demo_proposals": len(proposals),
                      "resources": [p.resource_id for p in proposals]}), flush=True)  # fmt: skip
    plan = click_plan(args.clicks, buttons(proposals))
    kinds = Counter("stop" if b["action_id"] == FIX_STOP else "snooze" for b in plan)
    rows = []
    failures = LazyFailures()
    slack_log = logging.getLogger("finops_bot.slack")
    slack_log.addHandler(failures)
    slack_log.propagate = False
    for variant, label in VARIANTS.items():
        db_path = copy_cache(base, folder / f"{variant}.db")
        answers = AnswerService(db_path, "EffectiveCost", today=lambda: TODAY)
        kind = SharedDeps if variant == "lazy-shared" else SlackDeps
        deps = kind(answers, remediation=service_for(db_path, settings), clock=lambda: NOW)
        app = eager_app(settings, deps) if variant == "eager" else build_app(settings, deps)
        failures.counts.clear()
        served = Served(app, answers)
        try:
            drive(served.port, [("GET", None, {})] * 40, args.clients)  # warm-up: connections
            clicks = [("POST", b, h) for b, h in signed_clicks(plan, fake.url, variant)]
            run = drive(served.port, clicks, args.clients)
            drained = wait_drained(fake, variant, len(clicks))
            posted, said = outcomes(fake, variant)
            row = {
                "bench": "remediation_clicks",
                "variant": variant,
                "listener": label,
                "clicks": len(clicks),
                "clients": args.clients,
                "kinds": dict(kinds),
                **figures(run["lat"], run["seconds"]),
                "errors": run["errors"],
                "work_drained_s_after_last_ack": None
                if drained is None
                else round(max(drained - run["done_at"], 0.0), 2),
                "clicks_answered": posted,
                "outcomes": dict(said.most_common()),
                "bolt_log": dict(failures.counts),
            }
            print(json.dumps(row, ensure_ascii=False), flush=True)
            rows.append(row)
            if variant == "lazy":
                health = drive(served.port, [("GET", None, {})] * args.clicks, args.clients)
                floor = {
                    "bench": "remediation_clicks",
                    "variant": "healthz",
                    "listener": "GET /healthz on the same server (the floor)",
                    "requests": args.clicks,
                    "clients": args.clients,
                    **figures(health["lat"], health["seconds"]),
                    "errors": health["errors"],
                }
                print(json.dumps(floor), flush=True)
                rows.append(floor)
        finally:
            served.close()
    slack_log.removeHandler(failures)
    slack_log.propagate = True
    fake.stop()
    return rows


# -- 2. sweep -----------------------------------------------------------------------------

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
ACCOUNT = "123456789012"


def node_kind(n: int) -> str:
    return "busy" if n % 20 == 0 else "recent" if n % 20 == 1 else "idle"


def fleet_cache(path: Path, nodes: int, minutes: int, step: int) -> tuple[datetime, float]:
    """``minutes`` of heartbeats ending at the returned now, one batch per node every
    ``step`` minutes (the last at now); → (now, seconds spent storing)."""
    from finops_bot.gpu.heartbeat import store_batches, validate_batch

    template = good_batch()
    db = connect(path)
    now = NOW
    spent = 0.0
    marks = sorted(set(range(minutes, 0, -step)) | {minutes})  # minute m ends at now - (M - m)
    for minute in marks:
        end = now - timedelta(minutes=minutes - minute)
        window = {
            "start": (end - timedelta(minutes=1)).isoformat(),
            "end": end.isoformat(),
            "samples": 6,
        }
        group = []
        for n in range(nodes):
            kind = node_kind(n)
            busy = kind == "busy" or (kind == "recent" and minute <= minutes - 10)
            util = {"min": 70, "mean": 80, "max": 90} if busy else {"min": 0, "mean": 0, "max": 0}
            batch = dict(template, batch_id=f"bench-{n:06d}-{minute:04d}", progress=None)
            batch["sent_at"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
            batch["node"] = dict(
                template["node"],
                hostname=f"gpu-{n:06d}",
                instance_id=f"i-bench{n:06d}",
                region=REGIONS[n % len(REGIONS)],
                zone=f"{REGIONS[n % len(REGIONS)]}a",
                account=ACCOUNT,
            )
            batch["labels"] = {"project": f"project-{n % 40:02d}", "owner": owner_of(n)}
            batch["window"] = window
            batch["gpus"] = [dict(g, util=util) for g in template["gpus"]]
            group.append((1, validate_batch(batch)))
        began = time.perf_counter()
        store_batches(db, group, end)
        spent += time.perf_counter() - began
    db.close()
    return now, spent


def owner_of(n: int) -> str:
    return f"owner{n % 50:02d}@acme.ai"


def sweep_bench(args, folder: Path) -> dict:
    from finops_bot.remediation.sweep import sweep

    path = folder / "fleet.db"
    began = time.perf_counter()
    now, stored = fleet_cache(path, args.nodes, args.minutes, args.step)
    built = time.perf_counter() - began
    cloud = DemoCloud(
        [
            DemoInstance(
                Target(
                    "aws",
                    ACCOUNT,
                    REGIONS[n % len(REGIONS)],
                    f"i-bench{n:06d}",
                    "p4d.24xlarge",
                    False,
                ),
                tags={"owner": owner_of(n), "project": f"project-{n % 40:02d}"},
            )  # fmt: skip
            for n in range(args.nodes)
        ]
    )
    rules = parse_remediation(RULES)
    db = connect(path)
    row: dict = {
        "bench": "remediation_sweep",
        "nodes": args.nodes,
        "gpus": args.nodes * 8,
        "minutes": args.minutes,
        "step": args.step,
        "store_s": round(stored, 2),
        "setup_s": round(built, 2),
    }
    for label in ("first", "second"):
        reads = len(cloud.calls)
        began = time.perf_counter()
        result = sweep(db, now, rules, cloud, PriceBook())
        row[f"{label}_sweep_s"] = round(time.perf_counter() - began, 3)
        row[f"{label}_candidates"] = result.candidates
        row[f"{label}_proposed"] = len(result.proposed)
        row[f"{label}_skipped"] = len(result.skipped)
        row[f"{label}_cloud_reads"] = len(cloud.calls) - reads
    db.close()
    print(json.dumps(row), flush=True)
    return row


# -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=800, help="clicks per variant")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--nodes", type=int, default=2000, help="GPU nodes for the sweep")
    parser.add_argument("--minutes", type=int, default=40, help="minutes of heartbeats")
    parser.add_argument("--step", type=int, default=1, help="minutes between a node's batches")
    parser.add_argument("--skip", choices=("clicks", "sweep"), help="leave one part out")
    args = parser.parse_args()
    logging.getLogger("finops_bot").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-remediation-") as tmp:
        folder = Path(tmp)
        rows = [] if args.skip == "clicks" else click_bench(args, folder)
        swept = None if args.skip == "sweep" else sweep_bench(args, folder)
    if rows:
        print(f"\nclick acks: {args.clicks} signed clicks, {args.clients} concurrent clients "
              "(keep-alive), loopback")  # fmt: skip
        print(f"{'':44}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}{'req/s':>7}")
        for r in rows:
            print(f"{r['listener']:44}{r['p50_ms']:>8}{r['p95_ms']:>8}{r['p99_ms']:>8}"
                  f"{r['max_ms']:>8}{r['per_s']:>7}")  # fmt: skip
        for r in rows:
            if "outcomes" in r:
                print(f"{r['variant']}: {r['clicks_answered']} of {r['clicks']} clicks answered "
                      f"at response_url, drained {r['work_drained_s_after_last_ack']} s after "
                      f"the last ack; {r['outcomes']}; bolt log {r['bolt_log']}")  # fmt: skip
        print(TARGETS[0])
    if swept:
        print(f"\nsweep over {swept['nodes']:,} nodes ({swept['gpus']:,} GPUs): first "
              f"{swept['first_sweep_s']} s ({swept['first_proposed']} proposed of "
              f"{swept['first_candidates']} candidates, {swept['first_cloud_reads']} cloud "
              f"reads), second {swept['second_sweep_s']} s ({swept['second_proposed']} "
              f"proposed, {swept['second_cloud_reads']} cloud reads)")  # fmt: skip
        print(TARGETS[1])


if __name__ == "__main__":
    main()
