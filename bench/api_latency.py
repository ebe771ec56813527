"""API latency beside a render on the embedded default; prints one JSON object. A figure to report.

    .venv/bin/python bench/api_latency.py [--seconds 12] [--gap-ms 25]

Starts ``dxgl serve`` (SQLite, the in-process runner, no previews, no render caps) with a fresh data
folder. Then, with one keep-alive client, ``GET /v1/account`` every ``--gap-ms`` ms:

* ``idle``: for ``--seconds`` with nothing rendering;
* ``rendering``: while a standard render runs (Duck, 1080p, 6 s: the upload's documented first
  render), from the moment it is processing until it is done, in the same server.

p50 / p99 / max of each, and p99 rendering / p99 idle, against the targets (p99 < 50 ms, < 3x idle).
The render child and its encoders run niced (``dxgl.proc``), the API at the server's own priority.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import ServeProcess, clean_env

MODELS = Path(__file__).resolve().parents[2] / "shared" / "assets" / "models"
PROCESSING = ("poster-processing", "poster-done", "video-processing")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(ms: list[float]) -> dict[str, Any]:
    return {
        "requests": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
    }


def sample(client: httpx.Client, headers: dict[str, str], gap_s: float, until: Any) -> list[float]:
    """GET /v1/account every ``gap_s`` until ``until()`` is true; the latencies in ms."""
    ms = []
    while not until():
        start = time.perf_counter()
        response = client.get("/v1/account", headers=headers)
        ms.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        time.sleep(gap_s)
    return ms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--gap-ms", type=float, default=25.0)
    parser.add_argument("--model", type=Path, default=MODELS / "Duck.glb")
    parser.add_argument("--smoke", action="store_true", help="a tiny render (160 px, 1 s): checks the script only")
    args = parser.parse_args()
    gap = args.gap_ms / 1000
    with tempfile.TemporaryDirectory(prefix="dxgl-latency-bench-") as tmp:
        env = clean_env(
            DXGL_DATA_DIR=str(Path(tmp) / "data"),
            DXGL_SYSTEM_PREVIEW="0",
            DXGL_RENDER_MAX_SIZE="160" if args.smoke else "0",
            DXGL_RENDER_MAX_LENGTH="1" if args.smoke else "0",
            DXGL_LOG_LEVEL="warning",
        )
        with ServeProcess(env) as server, httpx.Client(base_url=server.url, timeout=60) as client:
            headers = server.headers
            warm_until = time.monotonic() + 2
            sample(client, headers, gap, lambda: time.monotonic() > warm_until)  # connection, caches
            load_idle = os.getloadavg()
            idle_until = time.monotonic() + args.seconds
            idle = sample(client, headers, gap, lambda: time.monotonic() > idle_until)
            upload = client.post(
                "/v1/models", headers=headers, files={"file": (args.model.name, args.model.read_bytes())}
            )
            upload.raise_for_status()
            render_id = upload.json()["data"]["renderId"]
            state: dict[str, Any] = {"status": "pending", "checked": 0.0}

            def status() -> str:
                if time.monotonic() - state["checked"] > 0.25:
                    body = client.get(f"/v1/renders/{render_id}", headers=headers).json()["data"]
                    state["status"], state["checked"] = body["status"], time.monotonic()
                return str(state["status"])

            deadline = time.monotonic() + 300
            while status() == "pending" and time.monotonic() < deadline:
                time.sleep(0.05)
            began = time.monotonic()
            load_render = os.getloadavg()
            rendering = sample(client, headers, gap, lambda: status() not in PROCESSING or time.monotonic() > deadline)
            render_s = time.monotonic() - began
            final = status()
    idle_s, busy_s = summary(idle), summary(rendering)
    ratio = busy_s["p99_ms"] / idle_s["p99_ms"] if idle_s["p99_ms"] else None
    print(
        json.dumps(
            {
                "endpoint": "GET /v1/account",
                "shape": "embedded default (dxgl serve, SQLite, in-process runner)",
                "machine": {
                    "cpus": os.cpu_count(),
                    "loadavg_idle_phase": load_idle,
                    "loadavg_render_phase": load_render,
                },
                "gap_ms": args.gap_ms,
                "idle": idle_s,
                "rendering": {
                    **busy_s,
                    "render": f"{args.model.name} standard " + ("160 px 1 s (smoke)" if args.smoke else "1080p 6 s"),
                    "render_s": round(render_s, 1),
                    "final_status": final,
                },
                "p99_ratio_rendering_over_idle": None if ratio is None else round(ratio, 2),
                "targets": {
                    "p99_under_50_ms": busy_s["p99_ms"] < 50,
                    "p99_under_3x_idle": ratio is not None and ratio < 3,
                },
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
