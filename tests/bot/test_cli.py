"""End to end: `python -m bot ...` in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from tests.conftest import REPO, charge, dump, write_focus

AS_OF = "2026-11-22"


def run(*args: str, db: Path, check: bool = True, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINOPS_BOT")}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args, "--db", str(db)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_demo_then_ask(tmp_path):
    db = tmp_path / "demo.db"
    out = run("demo", "--as-of", AS_OF, db=db).stdout
    assert "Project bert-training" in out and "Data through 2026-11-21" in out
    assert "Try next" in out

    def status() -> str:
        return re.sub(r"loaded \S+", "", run("status", db=db).stdout)

    rows = status()
    again = run("demo", "--as-of", AS_OF, db=db).stdout
    assert status() == rows  # twice: nothing doubled

    def answers(text: str) -> str:
        return re.sub(r"loaded [^)]*|rp_[0-9a-f]{12}", "", text.split("\n", 1)[1])

    assert answers(again) == answers(out)  # same answers
    payload = json.loads(
        run("ask", "top 3 projects last month", "--as-of", AS_OF, "--json", db=db).stdout
    )
    assert payload["kind"] == "top" and len(payload["rows"]) == 3
    assert payload["period"] == {"start": "2026-10-01", "end": "2026-10-31", "label": "last month"}
    assert payload["currency"] == "USD" and payload["data_through"] == "2026-11-21"


def test_ask_on_an_empty_cache_and_unknown_names(tmp_path):
    db = tmp_path / "empty.db"
    out = run("ask", "what did project bert-training cost this week", db=db).stdout
    assert "no billing data yet" in out and "python -m bot demo" in out
    run("demo", "--as-of", AS_OF, db=db)
    out = run("ask", "project bert-trainng this week", "--as-of", AS_OF, db=db).stdout
    assert "Did you mean 'bert-training'" in out
    assert "$" not in out


def test_output_into_a_closed_pipe_is_not_an_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINOPS_BOT")}
    proc = subprocess.run(
        f"{sys.executable} -m bot demo --db {tmp_path / 'p.db'} | head -1",
        shell=True,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.startswith("Demo organisation built")
    assert "Traceback" not in proc.stderr


def test_ask_previews_what_a_scope_or_a_channel_sees(tmp_path):
    db = tmp_path / "demo.db"
    out = run("demo", "--as-of", AS_OF, db=db).stdout
    assert "All spend in scope (team nlp)" in out and "outside what you may see" in out
    config = tmp_path / "finops-bot.toml"
    config.write_text(
        '[access]\nmode = "scoped"\ncontact = "#finops-help"\n'
        '[[access.grants]]\nchannel = "C0NLP"\nteams = ["nlp"]\n'
    )
    as_nlp = run("ask", "total spend last month", "--as-of", AS_OF, "--json",
                 "--scope", "teams=nlp", "--scope", "providers=aws", db=db)  # fmt: skip
    payload = json.loads(as_nlp.stdout)
    assert payload["scope"] == "provider aws, team nlp" and payload["kind"] == "total"
    channel = run("ask", "team vision last month", "--as-of", AS_OF, "--channel", "C0NLP",
                  "--config", str(config), db=db)  # fmt: skip
    assert "outside what this channel may see" in channel.stdout
    assert "ask #finops-help" in channel.stdout and "$" not in channel.stdout
    assert run("ask", "total spend", "--as-of", AS_OF, "--channel", "C0NLP",
               db=db).stderr.startswith("note: [access] mode is open")  # fmt: skip
    bad = run("ask", "total", "--scope", "team=nlp", db=db, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --scope 'team=nlp': give KEY=")
    operator = json.loads(run("ask", "total spend last month", "--as-of", AS_OF, "--json",
                              "--config", str(config), db=db).stdout)  # fmt: skip
    assert operator["scope"] is None and operator["title"] == "All spend"


def test_ask_with_a_bad_as_of(tmp_path):
    proc = run("ask", "x", "--as-of", "22/11/2026", db=tmp_path / "a.db", check=False)
    assert proc.returncode == 2  # a usage error, as argparse gives
    assert proc.stderr.strip() == "error: --as-of '22/11/2026': give a date as YYYY-MM-DD"


def test_import_reports_and_refuses(tmp_path):
    db = tmp_path / "i.db"
    rows = [charge("2026-11-01", 10), charge("2026-11-02", 5)]
    rows[1]["BilledCost"] = "oops"
    good = write_focus(tmp_path / "good.csv", rows)
    proc = run("import", str(good), db=db, check=False)
    assert proc.returncode == 3  # something stored, some rows refused
    out = proc.stdout
    assert "1 stored" in out or "1 stored at daily grain" in out
    assert "row 2: BilledCost is not a number: 'oops'" in out
    assert "USD: EffectiveCost $10.00" in out
    bad = write_focus(tmp_path / "bad.csv", rows, ["ChargePeriodStart", "BilledCost"])
    proc = run("import", str(bad), db=db, check=False)
    assert proc.returncode == 1
    assert "required FOCUS columns are missing: EffectiveCost, BillingCurrency" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run("import", str(good), "--strict", db=db, check=False)
    assert proc.returncode == 1 and "--strict" in proc.stderr
    proc = run("--config", str(tmp_path / "missing.toml"), "status", db=db, check=False)
    assert proc.returncode == 1 and "does not exist" in proc.stderr


def test_every_shared_focus_file_imports(tmp_path, shared_fixtures):
    db = tmp_path / "f.db"
    files = sorted((shared_fixtures / "focus").rglob("*.csv"))
    assert len(files) == 8
    out = run("import", *map(str, files), "--currency", "USD", db=db).stdout
    assert out.count("Imported ") == 8


def test_kill_during_import_leaves_the_cache_as_it_was(tmp_path):
    db = tmp_path / "k.db"
    small = write_focus(tmp_path / "small.csv", [charge("2026-11-01", 10)])
    run("import", str(small), db=db)
    from finops_bot.store import connect

    before = dump(connect(db))
    n = 600_000
    table = pa.table(
        {
            "ChargePeriodStart": ["2026-10-01T00:00:00Z"] * n,
            "BilledCost": ["1.5"] * n,
            "EffectiveCost": ["1.25"] * n,
            "BillingCurrency": ["USD"] * n,
            "ResourceId": [f"i-{i}" for i in range(n)],
        }
    )
    big = tmp_path / "big.csv"
    pacsv.write_csv(table, big)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINOPS_BOT")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "import", str(big), "--db", str(db), "--no-progress"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # wait until the import is writing (the WAL grows), then kill it hard
    wal = Path(f"{db}-wal")
    deadline = time.monotonic() + 60
    start_size = wal.stat().st_size if wal.exists() else 0
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > start_size + (2 << 20):
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail("the import finished before it could be interrupted; make the file larger")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert dump(connect(db)) == before
    assert "1 source" in run("status", db=db).stdout


def test_agent_token_create_list_revoke(tmp_path):
    db = tmp_path / "t.db"
    created = run("agent-token", "create", "--name", "training-nodes", db=db)
    token = created.stdout.strip()
    assert token.startswith("fbt_") and "shown only now" in created.stderr
    assert "training-nodes" in run("agent-token", "list", db=db).stdout
    again = run("agent-token", "create", "--name", "training-nodes", db=db, check=False)
    assert again.returncode == 1 and "exists" in again.stderr
    run("agent-token", "revoke", "--name", "training-nodes", db=db)
    assert "REVOKED" in run("agent-token", "list", db=db).stdout
    from finops_bot.gpu.tokens import verify_token
    from finops_bot.store import connect

    assert verify_token(connect(db), token) is None


def test_gpus_command(tmp_path):
    from datetime import UTC, datetime, timedelta

    from finops_bot.store import connect
    from tests.finops_bot.gpu.test_fleet import minutes

    db_path = tmp_path / "g.db"
    empty = run("gpus", db=db_path).stdout
    assert "No GPU heartbeats yet" in empty
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=39)
    minutes(
        connect(db_path),
        0,
        40,
        [0.0] * 8,
        node="gpu-node-7",
        provider="gcp",
        itype="a2-highgpu-8g",
        project="vision-research",
        owner="carol",
        t0=start,
    )
    out = run("gpus", db=db_path).stdout
    line = next(x for x in out.splitlines() if x.startswith("gpu-node-7"))
    assert "carol" in line and "vision-research" in line and " 8/8 " in line
    assert "idle" in line and "$29.39" in line
    assert max(len(x) for x in out.splitlines()[:2]) <= 100  # the table fits 100 columns
    assert "gpu-node-7" in run("gpus", "--idle", db=db_path).stdout
