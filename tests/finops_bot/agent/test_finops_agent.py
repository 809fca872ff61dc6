"""The node agent against a fake NVML and fake metadata services on loopback."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from finops_bot.agent import finops_agent
from tests import fake_nvml


class Metadata:
    """AWS IMDSv2 (token first), GCE (Metadata-Flavor) or Azure (Metadata: true) on 127.0.0.1."""

    def __init__(self, kind: str):
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status, body):
                data = body.encode()
                self.send_response(status)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                seen.append(("PUT", self.path))
                if kind == "aws" and self.path == "/latest/api/token":
                    return self._answer(200, "tok-123")
                self._answer(404, "")

            def do_GET(self):
                seen.append(("GET", self.path))
                if kind == "aws":
                    if self.headers.get("X-aws-ec2-metadata-token") != "tok-123":
                        return self._answer(401, "")
                    values = {
                        "instance-id": "i-0abc",
                        "instance-type": "p4d.24xlarge",
                        "placement/region": "us-east-1",
                        "placement/availability-zone": "us-east-1a",
                        "instance-life-cycle": "spot",
                    }
                    key = self.path.removeprefix("/latest/meta-data/")
                    return (
                        self._answer(200, values[key]) if key in values else self._answer(404, "")
                    )
                if kind == "gcp":
                    if self.headers.get("Metadata-Flavor") != "Google":
                        return self._answer(403, "")
                    values = {
                        "id": "4242",
                        "zone": "projects/1/zones/us-central1-a",
                        "machine-type": "projects/1/machineTypes/a2-highgpu-8g",
                        "scheduling/provisioning-model": "STANDARD",
                        "scheduling/preemptible": "FALSE",
                    }
                    key = self.path.removeprefix("/computeMetadata/v1/instance/")
                    return (
                        self._answer(200, values[key]) if key in values else self._answer(404, "")
                    )
                if self.headers.get("Metadata") != "true":
                    return self._answer(400, "")
                self._answer(
                    200,
                    json.dumps(
                        {
                            "compute": {
                                "vmId": "vm-1",
                                "resourceId": "/subscriptions/s/resourceGroups/r/providers/"
                                "Microsoft.Compute/virtualMachines/asr",
                                "vmSize": "Standard_ND96asr_v4",
                                "location": "eastus",
                                "zone": "1",
                                "priority": "Spot",
                            }
                        }
                    ),
                )

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


DEAD = "http://127.0.0.1:9"  # nothing listens: the probe must fail fast


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "aws",
            {
                "provider": "aws",
                "instance_id": "i-0abc",
                "instance_type": "p4d.24xlarge",
                "region": "us-east-1",
                "zone": "us-east-1a",
                "spot": True,
            },
        ),
        (
            "gcp",
            {
                "provider": "gcp",
                "instance_id": "4242",
                "instance_type": "a2-highgpu-8g",
                "region": "us-central1",
                "zone": "us-central1-a",
                "spot": False,
            },
        ),
        (
            "azure",
            {
                "provider": "azure",
                "instance_type": "Standard_ND96asr_v4",
                "region": "eastus",
                "zone": "1",
                "spot": True,
            },
        ),
    ],
)
def test_identity_from_each_metadata_service(kind, expected):
    server = Metadata(kind)
    env = {
        "FINOPS_AGENT_AWS_IMDS": server.url if kind == "aws" else DEAD,
        "FINOPS_AGENT_GCE_METADATA": server.url if kind == "gcp" else DEAD,
        "FINOPS_AGENT_AZURE_IMDS": server.url if kind == "azure" else DEAD,
    }
    try:
        node = finops_agent.identity(env)
    finally:
        server.close()
    assert {k: node[k] for k in expected} == expected
    if kind == "aws":
        assert server.seen[0] == ("PUT", "/latest/api/token")  # IMDSv2: token first


def test_off_cloud_falls_back_to_the_hostname_quickly():
    import time

    began = time.monotonic()
    node = finops_agent.identity(
        {
            "FINOPS_AGENT_AWS_IMDS": DEAD,
            "FINOPS_AGENT_GCE_METADATA": DEAD,
            "FINOPS_AGENT_AZURE_IMDS": DEAD,
        }
    )
    assert node["provider"] is None and node["hostname"]
    assert time.monotonic() - began < 3


def test_sampler_min_mean_max_processes_and_errors():
    gpus = [fake_nvml.a100(0, util=10, procs=[(4242, 1024)]), fake_nvml.a100(1, util=0)]
    gpus.append(dict(fake_nvml.a100(2), error="GPU is lost"))
    nvml = fake_nvml.make(gpus)
    sampler = finops_agent.Sampler(nvml)
    for util in (10, 30, 50):
        gpus[0]["util"] = util
        sampler.sample()
    out, window = sampler.drain()
    assert window["samples"] == 3
    assert out[0]["util"] == {"min": 10.0, "mean": 30.0, "max": 50.0}
    assert out[0]["processes"] == [{"pid": 4242, "used_memory_mb": 1024}]
    assert out[0]["name"] == "NVIDIA A100-SXM4-80GB" and out[0]["power_w"]["mean"] == 62.0
    assert out[1]["state"] == "ok" and out[1]["processes"] == []
    assert out[2] == {"index": 2, "state": "error", "error": "GPU is lost"}  # kept, not dropped


def test_once_print_outputs_one_valid_batch(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml.make([fake_nvml.a100(0, util=97)]))
    env = {
        "FINOPS_AGENT_NO_METADATA": "1",
        "FINOPS_PROJECT": "bert-training",
        "FINOPS_OWNER": "alice",
        "FINOPS_PROGRESS": "1200",
    }
    assert finops_agent.main(["--once", "--print"], env) == 0
    payload = json.loads(capsys.readouterr().out)
    from finops_bot.gpu.heartbeat import validate_batch

    batch = validate_batch(payload)  # what the agent sends, the bot accepts
    assert batch["labels"]["project"] == "bert-training" and batch["progress"] == 1200
    assert payload["gpus"][0]["util"]["mean"] == 97.0


def test_no_nvml_is_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setitem(
        sys.modules, "pynvml", fake_nvml.make([], init_error="NVML Shared Library Not Found")
    )
    assert finops_agent.main(["--once", "--print"], {"FINOPS_AGENT_NO_METADATA": "1"}) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NVIDIA driver" in err[0]


def test_buffer_drops_the_oldest_and_counts_and_backs_off():
    sender = finops_agent.Sender(DEAD, "fbt_x", buffer=3)
    for i in range(5):
        sender.add({"n": i})
    assert [b["n"] for b in sender.queue] == [2, 3, 4] and sender.dropped == 2
    assert sender.flush(now=1000.0) == 0  # unreachable
    assert sender.next_try > 1000.0 and len(sender.queue) == 3
    assert sender.flush(now=1000.5) == 0  # still backing off: no attempt


def test_progress_file(tmp_path):
    path = tmp_path / "step"
    path.write_text("4096\n")
    assert finops_agent.progress({"FINOPS_PROGRESS_FILE": str(path)}) == 4096
    assert finops_agent.progress({"FINOPS_PROGRESS_FILE": str(tmp_path / "none")}) is None


def test_a_busy_bot_keeps_the_batches_and_its_retry_after_is_honoured():
    import http.server
    import threading

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - stdlib name
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(503)
            self.send_header("Retry-After", "60")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sender = finops_agent.Sender(f"http://127.0.0.1:{server.server_address[1]}", "fbt_x")
        sender.add({"n": 1})
        assert sender.flush(now=1000.0) == 0
        assert sender.next_try >= 1060.0 and len(sender.queue) == 1
    finally:
        server.shutdown()
