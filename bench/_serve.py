"""Start `python -m bot serve` (HTTP mode, no network) for a bench; shared by the benches."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"


def bench_env() -> dict:
    """The environment without any real Slack or finops-bot settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FINOPS_BOT"))}


def start_serve(db: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = bench_env()
    env.update(
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL="http://127.0.0.1:9/api/",
        FINOPS_BOT_VERIFY_TOKEN="false",
        FINOPS_BOT_LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--db",
            str(db),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    server.stdout.readline()  # "finops-bot serving ...": up
    return server, port
