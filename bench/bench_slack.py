"""Signed /finops round trips over HTTP on loopback: p50/p95/p99 at 1, 8 and 32 concurrent
clients, against caches of 1M and 10M daily rows (built by bench_import.py).

    python bench/bench_slack.py [--db bench/out/import_1000000_parquet.db ...] [--seconds 8]

Starts `python -m bot serve` (HTTP mode, no network), keep-alive client connections.
Requests are signed up front (a signature stays valid for five minutes), so the clients
cost little next to the server; both share this machine's two cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from _serve import SECRET, start_serve
from slack_sdk.signature import SignatureVerifier

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
QUESTIONS = [
    "what did project project-042 cost this week",
    "top 10 projects this month",
    "project-017 by service last 30 days",
    "compare team team-07 this month vs last month",
    "total spend last week",
]


def signed_requests() -> list[tuple[bytes, dict]]:
    out = []
    ts = str(int(time.time()))
    for i, q in enumerate(QUESTIONS):
        body = urlencode(
            {
                "command": "/finops",
                "text": q,
                "user_id": "U1",
                "channel_id": "C1",
                "team_id": "T1",
                "trigger_id": str(i),
                "response_url": "http://127.0.0.1:9/resp",
            }
        )
        sig = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
        out.append(
            (
                body.encode(),
                {
                    "content-type": "application/x-www-form-urlencoded",
                    "x-slack-request-timestamp": ts,
                    "x-slack-signature": sig,
                },
            )
        )
    return out


def load(port: int, clients: int, seconds: float) -> dict:
    requests = signed_requests()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, i = [], n
        while time.monotonic() < stop_at:
            body, headers = requests[i % len(requests)]
            i += 1
            began = time.perf_counter()
            conn.request("POST", "/slack/events", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            mine.append((time.perf_counter() - began) * 1000)
            if resp.status != 200 or b'"blocks"' not in data:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(int(len(latencies) * q), len(latencies) - 1)], 1)

    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors[0],
        "per_s": round(len(latencies) / seconds),
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--db",
        type=Path,
        nargs="*",
        default=[
            HERE / "out" / "import_1000000_parquet.db",
            HERE / "out" / "import_10000000_parquet.db",
        ],
    )
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", default="1,8,32")
    args = parser.parse_args()
    rows = []
    for db in args.db:
        if not db.exists():
            print(json.dumps({"bench": "slack", "skipped": str(db), "why": "run bench_import.py"}))
            continue
        count = sqlite3.connect(db).execute("SELECT COUNT(*) FROM charges").fetchone()[0]
        server, port = start_serve(db)
        try:
            load(port, 4, 1.0)  # warm-up: connections, caches
            for clients in (int(c) for c in args.clients.split(",")):
                line = {"bench": "slack", "cache_rows": count, **load(port, clients, args.seconds)}
                print(json.dumps(line), flush=True)
                rows.append(line)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(
        f"\n{'cache rows':>11} {'clients':>7} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'errors':>6}"
    )
    for r in rows:
        print(
            f"{r['cache_rows']:>11,} {r['clients']:>7} {r['per_s']:>6} {r['p50_ms']:>7} "
            f"{r['p95_ms']:>7} {r['p99_ms']:>7} {r['errors']:>6}"
        )


if __name__ == "__main__":
    main()
