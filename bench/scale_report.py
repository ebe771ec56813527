"""Issue 14's two measurements in one run; prints one JSON object (docs/deploy.md, "Measurements").

    .venv/bin/python bench/scale_report.py

1. ``api_latency``: p50 / p99 of GET /v1/account on the embedded default, idle and while a standard
   render runs (bench/api_latency.py);
2. ``throughput``: standard renders per hour with one and with two workers (bench/throughput.py).

Run one after the other, never together, so that neither disturbs the other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def run(script: str, *args: str) -> object:
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"failed": done.returncode, "stderr_tail": done.stderr[-2000:]}
    return json.loads(done.stdout)


def main() -> None:
    began = time.time()
    report = {
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(began)),
        "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()},
        "api_latency": run("api_latency.py"),
        "throughput": run("throughput.py"),
    }
    report["total_s"] = round(time.time() - began, 1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
