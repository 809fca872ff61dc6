"""A fake `pynvml` module: the NVML calls the agent makes, with readings a test controls."""

from __future__ import annotations

import types


class NVMLError(Exception):
    pass


def make(gpus: list[dict], init_error: str | None = None) -> types.ModuleType:
    """gpus: [{"uuid", "name", "util", "used", "total", "power_mw", "temp", "procs", "error"}]"""
    m = types.ModuleType("pynvml")
    m.NVMLError = NVMLError
    m.NVML_TEMPERATURE_GPU = 0
    m.calls = []

    def init():
        if init_error:
            raise NVMLError(init_error)

    def handle(i):
        return i

    def check(i):
        if gpus[i].get("error"):
            raise NVMLError(gpus[i]["error"])

    def util(h):
        check(h)
        return types.SimpleNamespace(gpu=gpus[h]["util"], memory=0)

    def mem(h):
        check(h)
        return types.SimpleNamespace(used=gpus[h]["used"] * 2**20, total=gpus[h]["total"] * 2**20)

    m.nvmlInit = init
    m.nvmlShutdown = lambda: None
    m.nvmlDeviceGetCount = lambda: len(gpus)
    m.nvmlDeviceGetHandleByIndex = handle
    m.nvmlDeviceGetUUID = lambda h: gpus[h]["uuid"]
    m.nvmlDeviceGetName = lambda h: gpus[h]["name"].encode()  # older bindings return bytes
    m.nvmlDeviceGetUtilizationRates = util
    m.nvmlDeviceGetMemoryInfo = mem
    m.nvmlDeviceGetPowerUsage = lambda h: gpus[h]["power_mw"]
    m.nvmlDeviceGetTemperature = lambda h, kind: gpus[h]["temp"]
    m.nvmlDeviceGetComputeRunningProcesses = lambda h: [
        types.SimpleNamespace(pid=p, usedGpuMemory=mb * 2**20) for p, mb in gpus[h]["procs"]
    ]
    return m


def a100(i: int, util: float = 0.0, procs=()) -> dict:
    return {
        "uuid": f"GPU-0000000{i}-aaaa-bbbb-cccc-dddddddddddd",
        "name": "NVIDIA A100-SXM4-80GB",
        "util": util,
        "used": 1024 if procs else 0,
        "total": 81920,
        "power_mw": 62000,
        "temp": 33,
        "procs": list(procs),
    }
