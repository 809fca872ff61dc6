"""Two writers at once, in separate processes (forked, so each has its own SQLite
connection and locks): import + import of the same content from two paths, import + sync of
the same charges, sync + sync. Twenty racing pairs of each: the charges are stored once,
never twice, and nobody prints a traceback. And the wait itself: one "waiting" line, then
success when the other writer finishes, or exit 1 after --wait seconds."""

from __future__ import annotations

import gzip
import io
import multiprocessing
import os
import sqlite3
import sys
import threading
import time
import traceback
from pathlib import Path

import boto3
import pytest

from bot.cli import main
from finops_bot.store import connect
from tests.bot.test_sync_cli import _FixedDatetime
from tests.conftest import charge, write_focus
from tests.finops_bot.sources.test_aws_ce import aws  # noqa: F401

PAIRS = 20
BUCKET = "acme-billing-exports"
KEY = "exports/focus/data/BILLING_PERIOD=2026-11/focus-00001.csv.gz"
CONFIG = f"""
[[sources]]
name = "aws-export"
type = "aws_s3_export"
bucket = "{BUCKET}"
prefix = "exports"
"""
FORK = multiprocessing.get_context("fork")


def _rows() -> list[dict]:
    return [
        charge(f"2026-11-{d:02d}", round(1.25 * d + p, 2), project=f"p{p}", resource=f"i-{p}")
        for d in range(1, 21)
        for p in range(10)
    ]


EXPECTED = round(sum(float(r["BilledCost"]) for r in _rows()), 2)


@pytest.fixture
def setup(tmp_path, aws, monkeypatch):  # noqa: F811
    monkeypatch.setattr("bot.clock.datetime", _FixedDatetime)
    monkeypatch.delenv("FINOPS_BOT_DB", raising=False)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    first = write_focus(tmp_path / "a" / "focus.csv", _rows())
    second = tmp_path / "b" / "same-bytes.csv"
    second.write_bytes(first.read_bytes())
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=gzip.compress(first.read_bytes()))
    config = tmp_path / "finops-bot.toml"
    config.write_text(CONFIG)
    return {"a": str(first), "b": str(second), "config": str(config)}


def _child(barrier, argv: list[str], out_path: str) -> None:
    """In the forked process: wait for the other one, run the command, report."""
    buffer = io.StringIO()
    sys.stdout = sys.stderr = buffer
    code = 98
    try:
        barrier.wait(30)
        code = main(argv)
    except BaseException:  # noqa: BLE001 - a traceback is what the test looks for
        buffer.write("TRACEBACK\n" + traceback.format_exc())
        code = 99
    finally:
        Path(out_path).write_text(f"{code}\n{buffer.getvalue()}")
        os._exit(0)


def _race(tmp_path: Path, name: str, commands: list[list[str]]) -> list[tuple[int, str]]:
    barrier = FORK.Barrier(len(commands))
    outs = [str(tmp_path / f"{name}-{i}.out") for i in range(len(commands))]
    procs = [
        FORK.Process(target=_child, args=(barrier, argv, out))
        for argv, out in zip(commands, outs, strict=True)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0, f"{name}: a writer died ({p.exitcode})"
    results = []
    for out in outs:
        code, _, text = Path(out).read_text().partition("\n")
        results.append((int(code), text))
    return results


def _stored(db: Path) -> tuple[float, float]:
    conn = sqlite3.connect(db)
    facts = conn.execute("SELECT ROUND(COALESCE(SUM(billed_cost), 0), 2) FROM charges").fetchone()
    cube = conn.execute(
        "SELECT ROUND(COALESCE(SUM(billed_cost), 0), 2) FROM cube WHERE dim = '*'"
    ).fetchone()
    conn.close()
    return facts[0], cube[0]


@pytest.mark.parametrize("kind", ["import+import", "import+sync", "sync+sync"])
def test_racing_writers_never_double_and_never_trace(setup, tmp_path, kind):
    outcomes: dict[str, int] = {}
    for i in range(PAIRS):
        db = tmp_path / f"{kind}-{i}.db"
        connect(db).close()  # as `serve` does: created and migrated before anyone writes
        common = ["--db", str(db), "--config", setup["config"]]
        imports = [
            ["import", setup["a"], "--no-progress", *common],
            ["import", setup["b"], "--no-progress", *common],
        ]
        sync = ["sync", *common]
        commands = {
            "import+import": imports,
            "import+sync": [imports[i % 2], sync],
            "sync+sync": [sync, sync],
        }[kind]
        if i % 2:
            commands.reverse()  # who starts first alternates too
        results = _race(tmp_path, f"{kind}-{i}", commands)
        for code, text in results:
            assert "TRACEBACK" not in text and "Traceback" not in text, text
            assert code in (0, 1), (code, text)
        assert _stored(db) == (EXPECTED, EXPECTED), (i, results)
        codes = sorted(code for code, _ in results)
        if kind == "import+sync":  # the second of the two is refused, whichever it is
            assert codes == [0, 1], results
            assert any("count" in text and "twice" in text for _, text in results), results
        else:
            assert codes == [0, 0], results
        outcome = " / ".join(text.splitlines()[0][:40] if text else "" for _, text in results)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert sum(outcomes.values()) == PAIRS


def test_a_writer_waits_for_the_other_then_stores(setup, tmp_path, capsys):
    db = tmp_path / "w.db"
    connect(db).close()
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.8, holder.execute, args=("COMMIT",)).start()
    began = time.monotonic()
    code = main(["import", setup["a"], "--db", str(db), "--wait", "20", "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out
    assert time.monotonic() - began < 10
    assert out.err.count("waiting for another import or sync of this cache") == 1
    assert _stored(db) == (EXPECTED, EXPECTED)


@pytest.mark.parametrize("command", ["import", "sync"])
def test_a_writer_that_waited_too_long_fails_in_one_line(setup, tmp_path, capsys, command):
    db = tmp_path / "w.db"
    connect(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        argv = {"import": ["import", setup["a"], "--no-progress"], "sync": ["sync"]}[command]
        code = main([*argv, "--db", str(db), "--config", setup["config"], "--wait", "0.5"])
    finally:
        holder.execute("ROLLBACK")
    out = capsys.readouterr()
    assert code == 1
    assert "waiting for another import or sync of this cache" in out.err
    assert "still held the cache after 0.5 s; nothing was written" in out.err
    assert "Traceback" not in out.err + out.out
    assert _stored(db) == (0, 0)


def test_wait_must_be_seconds(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["import", "x.csv", "--wait", "soon"])
    assert exit_.value.code == 2
    assert "'soon' is not a number of seconds" in capsys.readouterr().err
