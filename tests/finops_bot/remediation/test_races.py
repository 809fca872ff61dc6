"""50 racing clicks on one proposal, in real mode, from two processes (spawned, so they share
nothing but the SQLite file): each process opens its own connections, builds its own demo
cloud and runner, and fires 25 clicks from a thread pool at once. Exactly one click
approves and stops; every other one is told it is already approved, being carried out or
done; the audit holds one execution and one success."""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from finops_bot.access import AccessPolicy, Identity
from finops_bot.demo_fleet import load_fleet
from finops_bot.gpu.prices import PriceBook
from finops_bot.remediation.demo_cloud import DemoCloud
from finops_bot.remediation.rules import parse_remediation
from finops_bot.remediation.runner import Actor, Runner
from finops_bot.remediation.sweep import sweep
from finops_bot.store import connect
from finops_bot.store import proposals as store
from tests.conftest import NOW

IDLE = "i-0b3a1c2d4e5f60002"  # alice's
RAW = {"propose_after_minutes": 30, "dry_run": False, "approvers": ["U0OPS"]}
PROCESSES, CLICKS = 2, 25  # clicks per process
ACTORS = (
    Actor("U0ALICE", "alice@acme.ai", Identity("U0ALICE")),  # the owner
    Actor("U0OPS", None, Identity("U0OPS")),  # an approver
)


def _clicker(path: str, proposal_id: str, nonce: str, barrier, out) -> None:
    """One process: its own cloud and runner; 25 threads, each with its own connection,
    click at once after both processes are ready."""
    try:
        cloud = DemoCloud.of_demo_fleet()
        runner = Runner(parse_remediation(RAW), AccessPolicy(), cloud)
        start = threading.Barrier(CLICKS)

        def click(i: int) -> tuple[bool, str]:
            db = connect(path, migrate=False)
            try:
                start.wait(timeout=20)
                result = runner.stop(db, proposal_id, nonce, ACTORS[i % 2], NOW)
                return result.done, result.message
            finally:
                db.close()

        barrier.wait(timeout=30)
        with ThreadPoolExecutor(CLICKS) as pool:
            results = list(pool.map(click, range(CLICKS)))
        stops = [c for c in cloud.calls if c[0] == "stop"]
        out.put((os.getpid(), results, stops, cloud.find(cloud_target(cloud)).state))
    except BaseException as exc:  # reported in the parent (a child's traceback is lost)
        out.put((os.getpid(), f"{type(exc).__name__}: {exc}", [], None))


def cloud_target(cloud: DemoCloud):
    return next(i.target for (_, name), i in cloud.instances.items() if name == IDLE)


def _importable_here(monkeypatch) -> None:
    """A spawned child unpickles ``_clicker`` by this module's name, which pytest chose
    (``--import-mode=importlib``): put the folder that name is relative to on the path the
    children start with."""
    root = Path(__file__).resolve().parents[len(__name__.split(".")) - 1]
    monkeypatch.syspath_prepend(str(root))


def _reports(procs, out, within: float) -> list:
    reports, deadline = [], time.monotonic() + within
    while len(reports) < len(procs) and time.monotonic() < deadline:
        try:
            reports.append(out.get(timeout=0.2))
        except queue.Empty:
            if all(p.exitcode not in (None, 0) for p in procs):
                break  # every child died before reporting (its stderr says why)
    return reports


def test_fifty_racing_clicks_in_two_processes_stop_once(tmp_path, monkeypatch):
    _importable_here(monkeypatch)
    path = tmp_path / "race.db"
    db = connect(path)
    try:
        load_fleet(db, NOW)
        made = sweep(db, NOW, parse_remediation(RAW), DemoCloud.of_demo_fleet(), PriceBook())
        p = next(p for p in made.proposed if p.resource_id == IDLE)
    finally:
        db.close()

    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
    began = time.monotonic()
    procs = [
        ctx.Process(target=_clicker, args=(str(path), p.id, p.nonce, barrier, out))
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    try:
        reports = _reports(procs, out, within=40)
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    elapsed = time.monotonic() - began
    assert len(reports) == PROCESSES, f"a process did not report in {elapsed:.1f}s"
    for pid, results, _, _ in reports:
        assert isinstance(results, list), f"process {pid} failed: {results}"
    assert len({pid for pid, *_ in reports}) == PROCESSES

    clicks = [r for _, results, _, _ in reports for r in results]
    assert len(clicks) == PROCESSES * CLICKS
    done = [message for ok, message in clicks if ok]
    assert done == [f"Stopped {IDLE} (stop done in the demo cloud)."]
    refused = [message for ok, message in clicks if not ok]
    assert len(refused) == PROCESSES * CLICKS - 1
    for message in refused:
        assert message.startswith("Already "), message
        assert message.endswith(". Nothing was changed."), message
    # only the winning process's cloud was called, once; its instance is stopped
    stops = [(pid, s) for pid, _, calls, _ in reports for s in calls]
    assert [s for _, s in stops] == [("stop", IDLE)]
    winner = stops[0][0]
    assert {pid: state for pid, _, _, state in reports}[winner] == "stopped"

    db = connect(path)
    try:
        events = [e["event"] for e in store.audit_events(db, p.id)]
        stored = store.get(db, p.id)
    finally:
        db.close()
    assert events.count("clicked") == PROCESSES * CLICKS
    assert events.count("approved") == 1
    assert events.count("executing") == 1
    assert events.count("succeeded") == 1
    assert events.count("refused") == PROCESSES * CLICKS - 1
    assert "failed" not in events
    assert stored.state == "succeeded"
    assert stored.decided_by in {a.user_id for a in ACTORS}
