"""The installed package, away from the checkout: the wheel built from this tree, installed
with `pip install --no-deps` into a fresh venv, runs `finops-bot` from another directory,
with the cloud SDKs made unimportable (what the base install has: no [aws], [gcp], [azure]).

The venv gets its third-party dependencies from the test environment's site-packages
through a .pth line (no network, a few seconds), never the checkout: everything of
finops-bot must come from the wheel. `.ci/run` also runs the README's demo command in a
fresh clone with a real `pip install .` from PyPI."""

from __future__ import annotations

import http.client
import json
import os
import shlex
import shutil
import signal
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-22"
SDKS = ("boto3", "botocore", "google", "azure")
BLOCKER = f"""
import sys
from importlib.abc import MetaPathFinder

class NoCloudSdk(MetaPathFinder):
    \"\"\"The base install: the cloud SDKs are not there.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {SDKS!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NoCloudSdk())
"""
BASE_PATHS = [
    "bot.cli",
    "bot.commands",
    "bot.serving",
    "bot.app",
    "bot.server",
    "bot.importing",
    "handlers",
    "handlers.http",
    "scheduled.billing",
    "scheduled.fleet",
    "scheduled.health",
    "finops_bot.sources",
    "finops_bot.sources.sync",
    "finops_bot.demo",
    "finops_bot.gpu.fleet",
    "finops_bot.agent.finops_agent",
    "slack_bolt.adapter.socket_mode",
    "apscheduler.schedulers.background",
]


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FINOPS_BOT", "SLACK_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    return {**env, **extra}


def test_the_demo_slack_app_and_fleet_import_no_cloud_sdk(tmp_path):
    """Nothing on the base paths imports boto3, google or azure at import time."""
    code = BLOCKER + textwrap.dedent(f"""
        import importlib
        for name in {BASE_PATHS!r}:
            importlib.import_module(name)
        from bot.cli import main
        assert main(["demo", "--db", {str(tmp_path / "d.db")!r}, "--as-of", "{AS_OF}"]) == 0
        assert main(["gpus", "--db", {str(tmp_path / "d.db")!r}]) == 0
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {SDKS!r})
        assert not loaded, loaded
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=clean_env(PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def copy_tree(dest: Path) -> Path:
    """What a clone of this tree holds: tracked files and new ones git does not ignore."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout
        files = [f for f in listed.decode().split("\0") if f and (REPO / f).is_file()]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (a tarball)
        ignore = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "*.db*")
        shutil.copytree(REPO, dest, ignore=ignore)
        return dest
    for name in files:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    return dest


def fresh_venv(tmp_path: Path) -> Path:
    """The wheel of this tree in a fresh venv (the SDKs blocked); returns its bin folder."""
    tree = copy_tree(tmp_path / "clone")
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    run = dict(capture_output=True, text=True, timeout=300, env=clean_env())
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(tree)], **run
    )
    assert built.returncode == 0, f"building the wheel (needs setuptools>=77):\n{built.stderr}"
    (wheel,) = dist.glob("finops_bot-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, **run)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], **run
    )
    assert installed.returncode == 0, installed.stderr
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], **run
    ).stdout.strip()
    outer = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    (Path(purelib) / "_no_cloud_sdk.py").write_text(BLOCKER)
    (Path(purelib) / "_finops_test_deps.pth").write_text(
        "import _no_cloud_sdk\n" + "".join(f"{p}\n" for p in outer)  # never the checkout
    )
    return venv / "bin"


@pytest.mark.packaging
def test_the_wheel_runs_from_any_directory(tmp_path):
    bin_ = fresh_venv(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def cli(*args: str, code: int = 0, env: dict | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(bin_ / "finops-bot"), *args],
            cwd=elsewhere,
            env=env or clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == code, proc.stdout[-2000:] + proc.stderr[-3000:]
        return proc

    where = subprocess.run(
        [str(bin_ / "python"), "-c", "import bot, handlers, scheduled, finops_bot as f; "
         "print(bot.__file__, handlers.__file__, scheduled.__file__, f.__file__)"],
        cwd=elsewhere, env=clean_env(), capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(str(tmp_path / "venv") in path for path in where), where

    db = tmp_path / "data" / "demo.db"
    db.parent.mkdir()
    out = cli("demo", "--db", str(db), "--as-of", AS_OF).stdout
    assert "Project bert-training" in out and "../shared" not in out
    steps = [line.strip() for line in out.split("Try next:\n")[1].splitlines() if line[:2] == "  "]
    assert steps and all(line.startswith("finops-bot ") for line in steps)
    answer = json.loads(cli("ask", "top 3 projects last month", "--db", str(db), "--as-of", AS_OF,
                            "--json").stdout)  # fmt: skip
    assert answer["kind"] == "top" and len(answer["rows"]) == 3
    for line in steps[-2:]:  # the demo's own sample file, imported into a cache of its own
        cli(*shlex.split(line, comments=True)[1:])

    config = elsewhere / "finops-bot.toml"
    config.write_text('[[sources]]\nname = "aws-prod"\ntype = "aws_cost_explorer"\n')
    failed = cli("sync", "--db", str(db), code=1)  # the config is found in the cwd
    assert failed.stderr == (
        "aws-prod: FAILED after 0 API call(s): "
        "aws_cost_explorer needs boto3: pip install 'finops-bot[aws]'\n"
    )
    config.unlink()
    serve_once(bin_, db, elsewhere)


def serve_once(bin_: Path, db: Path, cwd: Path) -> None:
    """The Slack app (HTTP mode) and the heartbeat endpoint start, answer, stop on SIGTERM."""
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="s", FINOPS_BOT_VERIFY_TOKEN="false"
    )
    proc = subprocess.Popen(
        [str(bin_ / "finops-bot"), "serve", "--db", str(db), "--host", "127.0.0.1", "--port", "0"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "finops-bot serving (HTTP" in line, line + proc.stderr.read()
        port = int(line.split("/healthz")[0].rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def call(method: str, path: str, **kw) -> tuple[int, bytes]:
            conn.request(method, path, **kw)
            response = conn.getresponse()
            return response.status, response.read()

        assert call("GET", "/healthz")[0] == 200
        status, agent = call("GET", "/agent.py")  # the node agent, from the installed package
        assert status == 200 and b"def main" in agent
        auth = {"authorization": "Bearer x"}
        assert call("POST", "/v1/heartbeats", body=b"{}", headers=auth)[0] == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and " WARNING " not in err, err
