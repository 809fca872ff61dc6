"""Heartbeats into `python -m bot serve` (HTTP mode) on loopback: sustained batches/s of
8-GPU batches and latency, over keep-alive and over new connections, while Slack questions
are served at the same time; and the agent's CPU time and memory per sample.

    python bench/bench_heartbeats.py [--seconds 8] [--clients 16]
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import resource
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from _serve import SECRET, bench_env, start_serve
from slack_sdk.signature import SignatureVerifier

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # the repo's tests hold the sample batch and the fake NVML

from tests.handlers.test_heartbeats import good_batch  # noqa: E402

BATCH = good_batch()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(int(len(values) * q), len(values) - 1)], 1) if values else 0.0


def heartbeat_load(
    port: int, tokens: list[str], clients: int, seconds: float, keep_alive: bool
) -> dict:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        mine, seen = [], {}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = 0
        while time.monotonic() < stop_at:
            batch = copy.copy(BATCH)
            batch["batch_id"] = uuid.uuid4().hex
            batch["node"] = dict(BATCH["node"], instance_id=f"i-{n:03d}-{i % 50:02d}")
            body = json.dumps(batch).encode()
            began = time.perf_counter()
            conn.request(
                "POST",
                "/v1/heartbeats",
                body=body,
                headers={
                    "authorization": f"Bearer {tokens[n]}",
                    "content-type": "application/json",
                },
            )
            resp = conn.getresponse()
            resp.read()
            mine.append((time.perf_counter() - began) * 1000)
            seen[resp.status] = seen.get(resp.status, 0) + 1
            if not keep_alive:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            i += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            for k, v in seen.items():
                codes[k] = codes.get(k, 0) + v

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "batches_per_s": round(codes.get(200, 0) / seconds),
        "p50_ms": pct(latencies, 0.5),
        "p99_ms": pct(latencies, 0.99),
        "status": codes,
    }


def slack_load(port: int, seconds: float, out: dict) -> None:
    body = urlencode(
        {
            "command": "/finops",
            "text": "top 5 projects this month",
            "user_id": "U",
            "channel_id": "C",
            "team_id": "T",
            "trigger_id": "1",
            "response_url": "http://127.0.0.1:9/r",
        }
    )
    ts = str(int(time.time()))
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body),
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    stop_at, lat = time.monotonic() + seconds, []
    while time.monotonic() < stop_at:
        began = time.perf_counter()
        conn.request("POST", "/slack/events", body=body, headers=headers)
        conn.getresponse().read()
        lat.append((time.perf_counter() - began) * 1000)
        time.sleep(0.05)
    out.update(slack_requests=len(lat), slack_p50_ms=pct(lat, 0.5), slack_p99_ms=pct(lat, 0.99))


def agent_cost(samples: int = 2000) -> dict:
    from finops_bot.agent import finops_agent
    from tests import fake_nvml

    nvml = fake_nvml.make([fake_nvml.a100(i, util=40, procs=[(100 + i, 2048)]) for i in range(8)])
    sampler = finops_agent.Sampler(nvml)
    began = time.process_time()
    for i in range(samples):
        sampler.sample()
        if i % 6 == 5:
            gpus, window = sampler.drain()
            json.dumps(finops_agent.batch(gpus, window, {"hostname": "n"}, {}, 0))
    cpu = (time.process_time() - began) / samples
    return {
        "agent_cpu_ms_per_sample": round(cpu * 1000, 3),
        "agent_cpu_percent_of_one_core_at_10s": round(cpu / 10 * 100, 4),
        "bench_process_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--db", type=Path, default=HERE / "out" / "import_1000000_parquet.db")
    args = parser.parse_args()
    db = args.db if args.db.exists() else HERE / "out" / "heartbeats.db"
    env = bench_env()
    tokens = [
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "agent-token",
                "create",
                "--name",
                f"bench-{uuid.uuid4().hex[:6]}",
                "--db",
                str(db),
            ],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        for _ in range(args.clients)
    ]  # one token per node group, as in a real fleet
    server, port = start_serve(db)
    try:
        for keep_alive in (True, False):
            slack: dict = {}
            t = threading.Thread(target=slack_load, args=(port, args.seconds, slack))
            t.start()
            line = heartbeat_load(port, tokens, args.clients, args.seconds, keep_alive)
            t.join()
            print(
                json.dumps(
                    {
                        "bench": "heartbeats",
                        "keep_alive": keep_alive,
                        "clients": args.clients,
                        **line,
                        **slack,
                    }
                ),
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(json.dumps({"bench": "agent", **agent_cost()}))


if __name__ == "__main__":
    main()
