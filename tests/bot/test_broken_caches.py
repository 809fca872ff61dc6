"""A cache that cannot be written or read as it should: read-only, full, locked (see
test_concurrent_writes), damaged, not a cache at all. Each gets one line saying what is wrong
and what to do, exit code 1, no traceback, and nothing half-written. Simulated so it works
as root too: a read-only open (what a file this user may not write gets), PRAGMA
max_page_count for a full disk, a copy with garbage pages for corruption. (An immutable
file, chattr +i, fails the same way as a read-only one: SQLite opens it read-only.)"""

from __future__ import annotations

import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.answers import AnswerService
from bot.cli import main
from bot.health import CacheHealth
from finops_bot.demo import load_demo
from finops_bot.store import connect
from tests.conftest import NOW, TODAY, charge, write_focus

ASK = ["ask", "top 5 projects last month", "--as-of", str(TODAY)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from finops_bot.ingest.tags import TagRules

    path = tmp_path_factory.mktemp("broken") / "demo.db"
    db = connect(path)
    load_demo(db, TODAY, NOW, TagRules({"project": ("project",)}))
    db.close()
    return path


@pytest.fixture
def copy(demo, tmp_path) -> Path:
    target = tmp_path / "copy.db"
    shutil.copy(demo, target)
    return target


@pytest.fixture
def focus(tmp_path) -> str:
    rows = [charge(f"2026-11-{d:02d}", 10.0 + d) for d in range(1, 11)]
    return str(write_focus(tmp_path / "focus.csv", rows))


def _no_trace(out) -> None:
    assert "Traceback" not in out.out + out.err
    assert len(out.err.strip().splitlines()) == 1, out.err


def _rows(path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM charges").fetchone()[0]
    finally:
        conn.close()


def test_a_new_cache_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "new.db"
    connect(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_read_only_cache_answers_questions_and_refuses_imports(copy, focus, monkeypatch, capsys):
    # what a file this user may not write gets: a read-only SQLite connection
    real = os.access
    monkeypatch.setattr(
        "finops_bot.store.db.os.access", lambda p, mode: mode != os.W_OK and real(p, mode)
    )
    before = _rows(copy)
    assert main([*ASK, "--db", str(copy)]) == 0
    assert "Top 5 projects" in capsys.readouterr().out
    assert main(["status", "--db", str(copy)]) == 0
    assert main(["gpus", "--db", str(copy)]) == 0
    capsys.readouterr()
    assert main(["import", focus, "--db", str(copy), "--no-progress"]) == 1
    out = capsys.readouterr()
    _no_trace(out)
    assert f"the cache {copy} is read-only" in out.err and "nothing was written" in out.err
    assert "not a finops-bot cache" not in out.err
    assert _rows(copy) == before


def test_a_full_disk_is_one_line_and_nothing_is_half_written(copy, focus, monkeypatch, capsys):
    import bot.importing

    def full(path, **kw):  # the disk fills up a few pages into the import
        db = connect(path, **kw)
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count={pages + 2}")
        return db

    monkeypatch.setattr(bot.importing, "connect", full)
    before = _rows(copy)
    rows = [charge(f"2026-11-{d % 28 + 1:02d}", d, resource=f"i-{d}") for d in range(3000)]
    big = write_focus(Path(focus).with_name("big.csv"), rows)
    assert main(["import", str(big), "--db", str(copy), "--no-progress"]) == 1
    out = capsys.readouterr()
    _no_trace(out)
    assert "is full" in out.err and "nothing was written" in out.err
    assert _rows(copy) == before


def _damage(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as fh:
        for offset in range(4096 * 5, size, 4096 * 7):
            fh.seek(offset + 100)
            fh.write(b"\xa5" * 2000)


def test_a_damaged_cache_is_one_line_for_every_command(copy, focus, capsys):
    _damage(copy)
    for argv in (ASK, ["import", focus, "--no-progress"]):
        code = main([*argv, "--db", str(copy)])
        out = capsys.readouterr()
        assert code == 1, (argv, out)
        _no_trace(out)
        assert f"the cache {copy} is damaged" in out.err and "restore it from a backup" in out.err


def test_a_file_that_is_no_cache_is_named_so(tmp_path, capsys):
    junk = tmp_path / "junk.db"
    junk.write_bytes(bytes(range(256)) * 20)
    assert main([*ASK, "--db", str(junk)]) == 1
    out = capsys.readouterr()
    _no_trace(out)
    assert "is not a finops-bot cache (not an SQLite file)" in out.err


def test_slack_answers_from_a_damaged_cache_are_one_line(copy):
    service = AnswerService(copy, "EffectiveCost", today=lambda: TODAY)
    _damage(copy)
    answer = service.ask("top 5 projects last month", TODAY)
    assert answer.kind == "error" and "is damaged" in answer.message


def test_health_reports_a_failed_quick_check_and_failed_writes(demo, copy):
    clock = lambda: datetime(2026, 11, 22, 12, tzinfo=UTC)  # noqa: E731
    good = CacheHealth(demo, clock)
    assert good.report()[0] is True  # not checked yet is not a failure
    assert good.check()["ok"] is True and good.report() == (
        True,
        {
            "integrity": {"ok": True, "checked_at": "2026-11-22T12:00:00+00:00", "result": "ok"},
            "failed_writes": [],
        },
    )
    _damage(copy)
    bad = CacheHealth(copy, clock)
    result = bad.check()
    assert result["ok"] is False and result["result"] != "ok"
    assert bad.report()[0] is False

    import sqlite3

    good.write_failed("heartbeats", sqlite3.OperationalError("database or disk is full"))
    ok, report = good.report()
    assert ok is False and report["failed_writes"][0]["writer"] == "heartbeats"
    assert "is full" in report["failed_writes"][0]["error"]
    good.write_ok("heartbeats")
    assert good.report()[0] is True
