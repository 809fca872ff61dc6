"""Every "Try next" line the demo prints runs as printed, in the directory the demo ran in,
and points at nothing a fresh clone lacks (the sample file is the demo's own)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from bot.cli import main

AS_OF = "2026-11-22"


def try_next(out: str) -> list[str]:
    lines = out.split("\nTry next:\n", 1)[1].splitlines()
    return [line.strip() for line in lines if line.startswith("  ")]


def command(line: str, prog: str) -> list[str]:
    words = shlex.split(line, comments=True)
    assert words[: len(prog.split())] == prog.split(), line
    return words[len(prog.split()) :]


@pytest.mark.parametrize(
    ("prog", "db"),
    [("python -m bot", ["--db", "my demo.db"]), ("finops-bot", [])],
    ids=["python-m-bot-with-db", "console-script-default-db"],
)
def test_every_try_next_line_runs(tmp_path, monkeypatch, capsys, prog, db):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FINOPS_BOT_DB", raising=False)
    monkeypatch.delenv("FINOPS_BOT_CONFIG", raising=False)
    if prog == "finops-bot":
        monkeypatch.setattr(sys, "argv", [str(tmp_path / "venv/bin/finops-bot")])
    assert main(["demo", *db, "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert "../shared" not in out
    assert f'$ {prog} ask "what did project bert-training cost this week"' in out
    lines = try_next(out)
    assert len(lines) == 11
    for line in lines:
        args = command(line, prog)
        for word in args:
            if word.endswith(".csv"):
                assert Path(word).is_file(), f"{line}: {word} does not exist"
        assert main(args) == 0, line
        shown = capsys.readouterr().out
        assert "error" not in shown.lower(), shown
    assert "Imported" in shown or "Amazon Elastic Compute Cloud" in shown
    sample_db = Path("my demo-sample.db" if db else "finops-bot-sample.db")
    assert sample_db.is_file()  # the sample went into a cache of its own
    importing, asking = command(lines[-2], prog), command(lines[-1], prog)
    totals = []
    for _ in range(2):  # imported again: replaced, not doubled
        assert main([*asking, "--json"]) == 0
        answer = json.loads(capsys.readouterr().out)
        totals.append((answer["total"], answer["rows"]))
        assert main(importing) == 0
        capsys.readouterr()
    assert totals[0] == totals[1] and totals[0][0] == pytest.approx(11132.85)
