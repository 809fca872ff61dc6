"""Heartbeats into `python -m bot serve` (HTTP mode) on loopback: sustained batches/s of
8-GPU batches, latency and the server's CPU per batch, over keep-alive and over new
connections, while Slack questions are served at the same time; the fleet view over what the
load stored and over a 2,000-node fleet; and the agent's CPU time and memory per sample.

    python bench/bench_heartbeats.py [--seconds 8] [--clients 8,32,64] [--tokens 100]

Prints one JSON line per measurement. The cache is a fresh copy of
bench/out/import_1000000_parquet.db when it exists (bench/bench_import.py makes it).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from _serve import SECRET, start_serve
from slack_sdk.signature import SignatureVerifier

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # the repo's tests hold the sample batch and the fake NVML

from tests.handlers.test_heartbeats import good_batch  # noqa: E402

BATCH = good_batch()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(int(len(values) * q), len(values) - 1)], 1) if values else 0.0


class Requests:
    """Pre-encoded POSTs, each a new batch_id from a new node, tokens taken in turn: the
    client spends microseconds per request, so the figures are the server's."""

    sent = 0

    def __init__(self, tokens: list[str]):
        template = dict(BATCH, batch_id="B" * 32)
        template["node"] = dict(BATCH["node"], instance_id="I" * 12)
        # the server refuses windows far from its clock ([fleet] max_batch_age_hours)
        end = datetime.now(UTC).replace(microsecond=0)
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        template["sent_at"] = end.strftime(stamp)
        template["window"] = dict(
            BATCH["window"],
            start=(end - timedelta(minutes=1)).strftime(stamp),
            end=end.strftime(stamp),
        )
        body = json.dumps(template).encode()
        head, rest = body.split(b"B" * 32)
        middle, tail = rest.split(b"I" * 12)
        self.parts = (head, middle, tail)
        self.heads = [
            (
                f"POST /v1/heartbeats HTTP/1.1\r\nHost: bench\r\n"
                f"Authorization: Bearer {t}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            for t in tokens
        ]
        self.n = Requests.sent  # nodes stay new across runs: every batch inserts rows
        self.prefix = uuid.uuid4().hex[:8]

    def next(self) -> bytes:
        self.n += 1
        Requests.sent = self.n
        head, middle, tail = self.parts
        return b"".join(
            (
                self.heads[self.n % len(self.heads)],
                head,
                f"{self.prefix}{self.n:024d}".encode(),
                middle,
                f"i-{self.n:010d}".encode(),
                tail,
            )
        )


class _Client(asyncio.Protocol):
    """One connection: send a request, read the whole response, record, repeat."""

    def __init__(self, requests: Requests, stats: dict, stop_at: float, done: asyncio.Future):
        self.requests, self.stats, self.stop_at, self.done = requests, stats, stop_at, done
        self.buf = b""

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        self.began = time.perf_counter()
        self.transport.write(self.requests.next())

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15 : head.find(b"\r\n", at) if b"\r\n" in head[at:] else None])
        if len(self.buf) < end + 4 + length:
            return
        status = int(self.buf[9:12])
        self.buf = self.buf[end + 4 + length :]
        self.stats["lat"].append((time.perf_counter() - self.began) * 1000)
        self.stats["codes"][status] = self.stats["codes"].get(status, 0) + 1
        if self.done.done() or time.monotonic() >= self.stop_at:
            self.transport.close()
        else:
            self._send()

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _keep_alive(port: int, requests: Requests, stats: dict, stop_at: float) -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    await loop.create_connection(lambda: _Client(requests, stats, stop_at, done), "127.0.0.1", port)
    await done


async def _new_connections(port: int, requests: Requests, stats: dict, stop_at: float) -> None:
    loop = asyncio.get_running_loop()
    while time.monotonic() < stop_at:
        done = loop.create_future()
        began = time.perf_counter()
        transport, client = await loop.create_connection(
            functools.partial(_Client, requests, stats, 0, done), "127.0.0.1", port
        )
        client.began = began  # the connect is part of the request
        await done


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def heartbeat_load(
    port: int, tokens: list[str], clients: int, seconds: float, keep_alive: bool
) -> dict:
    stats: dict = {"lat": [], "codes": {}}
    requests = Requests(tokens)

    async def run() -> None:
        stop_at = time.monotonic() + seconds
        one = _keep_alive if keep_alive else _new_connections
        await asyncio.gather(*(one(port, requests, stats, stop_at) for _ in range(clients)))

    began = time.perf_counter()
    try:
        import uvloop

        uvloop.run(run())
    except ImportError:  # Windows
        asyncio.run(run())
    elapsed = time.perf_counter() - began
    return {
        "batches": stats["codes"].get(200, 0),
        "batches_per_s": round(stats["codes"].get(200, 0) / elapsed),
        "p50_ms": pct(stats["lat"], 0.5),
        "p99_ms": pct(stats["lat"], 0.99),
        "status": stats["codes"],
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


def fleet_view(db: Path) -> dict:
    """`gpus` / "which GPUs are idle" over every node the load created."""

    from finops_bot.gpu.fleet import fleet, idle_cost
    from finops_bot.store import connect

    cache = connect(db)
    now = datetime.now(UTC)
    began = time.perf_counter()
    nodes = fleet(cache, now)
    view_ms = (time.perf_counter() - began) * 1000
    began = time.perf_counter()
    idle_cost(cache, now - timedelta(days=7), now)
    cost_ms = (time.perf_counter() - began) * 1000
    return {
        "nodes": len(nodes),
        "gpus": sum(len(n.gpus) for n in nodes),
        "gpu_minutes": cache.execute("SELECT COUNT(*) FROM gpu_minutes").fetchone()[0],
        "fleet_ms": round(view_ms),
        "idle_cost_7d_ms": round(cost_ms),
    }


_AGENT = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from tests import fake_nvml
nvml = fake_nvml.make([fake_nvml.a100(i, util=40, procs=[(100 + i, 2048)]) for i in range(8)])
sys.modules["pynvml"] = nvml
from finops_bot.agent import finops_agent
sampler = finops_agent.Sampler(nvml)
samples = int(sys.argv[2])
began = time.process_time()
for i in range(samples):
    sampler.sample()
    if i % 6 == 5:
        gpus, window = sampler.drain()
        json.dumps(finops_agent.batch(gpus, window, {"hostname": "n"}, {}, 0))
cpu = (time.process_time() - began) / samples
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(json.dumps([cpu, int(hwm.split()[1]) / 1024]))
"""


def fleet_sized(nodes: int = 2000, minutes: int = 45) -> dict:
    """A fleet of ``nodes`` 8-GPU nodes reporting for ``minutes`` (half of them idle):
    `gpus`, "which GPUs are idle" and a week of idle dollars."""
    import tempfile

    from finops_bot.gpu.fleet import fleet, idle_cost
    from finops_bot.gpu.heartbeat import store_batches, validate_batch
    from finops_bot.store import connect

    cache = connect(Path(tempfile.mkdtemp()) / "fleet.db")
    t0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    for minute in range(minutes):
        end = t0 + timedelta(minutes=minute + 1)
        group = []
        for n in range(nodes):
            batch = dict(BATCH, batch_id=f"b-{n:06d}-{minute:04d}")
            batch["node"] = dict(BATCH["node"], instance_id=f"i-{n:06d}")
            batch["window"] = {
                "start": (end - timedelta(minutes=1)).isoformat(),
                "end": end.isoformat(),
                "samples": 6,
            }
            util = 0 if n % 2 else 80
            batch["gpus"] = [
                dict(g, util={"min": util, "mean": util, "max": util}) for g in BATCH["gpus"]
            ]
            group.append((1, validate_batch(batch)))
        store_batches(cache, group, end)
    now = t0 + timedelta(minutes=minutes)
    timings = {}
    for label, call in (
        ("fleet_ms", lambda: fleet(cache, now)),
        ("idle_only_ms", lambda: fleet(cache, now, idle_only=True)),
        ("idle_cost_7d_ms", lambda: idle_cost(cache, now - timedelta(days=7), now)),
    ):
        began = time.perf_counter()
        call()
        timings[label] = round((time.perf_counter() - began) * 1000)
    return {"nodes": nodes, "gpus": nodes * 8, "gpu_minutes": nodes * 8 * minutes, **timings}


def agent_cost(samples: int = 2000) -> dict:
    """The agent's sampling loop (8 fake GPUs) in a process of its own: CPU and peak RSS."""
    out = subprocess.run(
        [sys.executable, "-c", _AGENT, str(REPO), str(samples)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    cpu, rss = json.loads(out.strip().splitlines()[-1])
    return {
        "agent_cpu_ms_per_sample": round(cpu * 1000, 3),
        "agent_cpu_percent_of_one_core_at_10s": round(cpu / 10 * 100, 4),
        "agent_process_peak_rss_mb": round(rss),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", default="8,32,64", help="connections, comma-separated")
    parser.add_argument("--tokens", type=int, default=100, help="agent tokens (node groups)")
    parser.add_argument("--db", type=Path, default=HERE / "out" / "import_1000000_parquet.db")
    args = parser.parse_args()
    db = HERE / "out" / "heartbeats_run.db"  # a fresh copy: every run starts alike
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    if args.db.exists():
        shutil.copyfile(args.db, db)
        os.sync()  # the copy's writeback would otherwise slow the first run
    from datetime import UTC, datetime

    from finops_bot.gpu.tokens import create_token
    from finops_bot.store import connect

    cache = connect(db)
    run_id = uuid.uuid4().hex[:6]
    tokens = [  # one token per node group, as in a real fleet; 100 batches/s each at most
        create_token(cache, f"bench-{run_id}-{i}", datetime.now(UTC)) for i in range(args.tokens)
    ]
    cache.close()
    server, port = start_serve(db)
    try:
        for keep_alive in (True, False):
            for clients in (int(c) for c in args.clients.split(",")):
                slack: dict = {}
                t = threading.Thread(target=slack_load, args=(port, args.seconds, slack))
                t.start()
                cpu_before = _cpu_seconds(server.pid)
                line = heartbeat_load(port, tokens, clients, args.seconds, keep_alive)
                t.join()
                line["server_cpu_us_per_batch"] = round(
                    (_cpu_seconds(server.pid) - cpu_before) / max(line["batches"], 1) * 1e6
                )
                print(
                    json.dumps(
                        {
                            "bench": "heartbeats",
                            "keep_alive": keep_alive,
                            "clients": clients,
                            **line,
                            **slack,
                        }
                    ),
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(json.dumps({"bench": "fleet_view", **fleet_view(db)}))
    print(json.dumps({"bench": "fleet_view", **fleet_sized()}))
    print(json.dumps({"bench": "agent", **agent_cost()}))


if __name__ == "__main__":
    main()
