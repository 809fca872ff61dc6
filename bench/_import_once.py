"""Import one file into a fresh cache in this process; print one JSON line (used by
bench_import.py so each measurement's peak memory is its own)."""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from finops_bot.ingest.importer import import_file
from finops_bot.ingest.tags import TagRules
from finops_bot.store import connect


def peak_rss_mb() -> int:
    """VmHWM: this process's own peak RSS. (ru_maxrss survives exec on Linux, so a child
    started by a large parent would report the parent's size.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


path, db_path = Path(sys.argv[1]), Path(sys.argv[2])
for suffix in ("", "-wal", "-shm"):
    Path(f"{db_path}{suffix}").unlink(missing_ok=True)
db = connect(db_path)
rules = TagRules({"project": ("project",), "team": ("team",), "owner": ("owner",)})
began = time.perf_counter()
report = import_file(db, path, rules=rules, now=datetime.now(UTC))
seconds = time.perf_counter() - began
print(
    json.dumps(
        {
            "file": path.name,
            "rows": report.result.rows_read,
            "seconds": round(seconds, 2),
            "rows_per_s": round(report.result.rows_read / seconds),
            "peak_rss_mb": peak_rss_mb(),
            "file_mb": round(path.stat().st_size / 1e6),
        }
    )
)
