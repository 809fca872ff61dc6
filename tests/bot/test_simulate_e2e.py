"""End to end, no GPU: a real `python -m bot serve` process, an agent token made with
`agent-token create`, then `--simulate idle|busy|stalled` as processes (busy through
`python -m finops_bot.agent`, idle and stalled through the one file GET /agent.py serves,
run alone with the standard library only), and `python -m bot gpus [--idle]` shows each
simulated node in its state at once."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request

from finops_bot.agent import finops_agent
from tests.bot.test_serve import base_env, free_port
from tests.conftest import REPO
from tests.fake_slack import FakeSlack

ROW = re.compile(r"\s(\d+)/(\d+)\s+(partly idle|idle\+mem|idle|busy|stalled|silent)\s")


def bot(*args: str, env: dict) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def states(table: str) -> dict[str, tuple[str, str]]:
    """`gpus` rows by the first 12 characters of the hostname → (idle GPUs, state)."""
    out = {}
    for line in table.splitlines():
        found = ROW.search(line)
        if found:
            out[line[:12].rstrip()] = (f"{found[1]}/{found[2]}", found[3])
    return out


def test_simulated_nodes_show_idle_busy_and_stalled_in_gpus(tmp_path):
    db = tmp_path / "cache.db"
    env = {k: v for k, v in base_env().items() if k not in ("FINOPS_PROJECT", "FINOPS_OWNER")}
    token = bot("agent-token", "create", "--name", "laptop", "--db", str(db), env=env).strip()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    fake, port = FakeSlack(), free_port()
    serve_env = base_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="sekrit",
        SLACK_API_URL=fake.url + "/api/",
        FINOPS_BOT_VERIFY_TOKEN="false",
    )
    serve = [sys.executable, "-m", "bot", "serve", "--db", str(db), "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*serve, "--port", str(port)],
        cwd=REPO,
        env=serve_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert "finops-bot serving (HTTP" in proc.stdout.readline()
        alone = tmp_path / "node" / "finops_agent.py"  # what a node downloads
        alone.parent.mkdir()
        with urllib.request.urlopen(f"{url}/agent.py", timeout=10) as response:  # noqa: S310
            alone.write_bytes(response.read())
        runs = {
            "busy": [sys.executable, "-m", "finops_bot.agent"],
            "idle": [sys.executable, "-I", "-S", str(alone)],  # no site-packages: stdlib only
            "stalled": [sys.executable, "-I", "-S", str(alone)],
        }
        lines = {}
        for scenario, command in runs.items():
            sim = subprocess.run(
                [*command, "--simulate", scenario, "--url", url, "--token-file", str(token_file)],
                cwd=REPO if scenario == "busy" else alone.parent,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert sim.returncode == 0, sim.stderr
            lines[scenario] = sim.stdout.strip().splitlines()
        table = bot("gpus", "--db", str(db), env=env)
        idle_table = bot("gpus", "--idle", "--db", str(db), env=env)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        fake.stop()
    assert proc.returncode == 0 and "Traceback" not in err, err
    for scenario, out in lines.items():
        assert len(out) == 1 and "40 stored, 0 already stored" in out[0]
        assert f"`python -m bot gpus` should now show it {scenario}" in out[0]
    host = {s: finops_agent.sim_node(s)["hostname"][:12].rstrip() for s in runs}
    assert states(table) == {
        host["idle"]: ("8/8", "idle"),
        host["busy"]: ("0/8", "busy"),
        host["stalled"]: ("8/8", "stalled"),  # low utilisation, but a process and no progress
    }, table
    assert states(idle_table) == {
        host["idle"]: ("8/8", "idle"),
        host["stalled"]: ("8/8", "stalled"),
    }, idle_table
    assert "simulated" in table and "$32.77" in table  # a project label; the bundled price
