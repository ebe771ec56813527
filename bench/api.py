"""API benchmark: ``GET /v1/models/:id`` against a bare Starlette JSON endpoint, on this machine.

Run by hand:  .venv/bin/python bench/api.py [--requests 3000] [--concurrency 32]
Prints one JSON object: requests/s for each server, latency percentiles, and the ratio
dxgl / bare (target >= 0.5).

Both servers are uvicorn in a subprocess with one worker and the same log level; they run one
after the other (never at once) so neither steals the other's CPU. The load generator is httpx
async with a fixed number of requests and a fixed concurrency, after a warm-up; it shares the
machine's cores with the server, so absolute numbers are low on a small machine and the ratio is
the figure to compare. dxgl uses its embedded default (SQLite in a temporary data dir) and a model
uploaded first (Duck.glb, one render), so the request does auth, two queries and serialisation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.live_server import ServeProcess, clean_env, free_port, stop_process, wait_until_up  # noqa: E402

DUCK = (
    Path(os.environ.get("DXGL_ASSETS") or Path(__file__).resolve().parents[2] / "shared" / "assets" / "models")
    / "Duck.glb"
)
BARE_PAYLOAD = {
    "data": {
        "id": "Ab3kF9x2qL1m",
        "originalName": "chair.glb",
        "title": "Ergonomic Chair",
        "sku": "EC-1001",
        "tags": ["furniture", "office"],
        "fileSize": 4521984,
        "sha256": "a" * 64,
        "createdAt": "2026-02-15T20:00:00.000Z",
        "renders": [],
    }
}


def serve_bare(port: int) -> None:
    """The baseline: one Starlette route answering a fixed model-shaped JSON document."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def model(request):
        return JSONResponse(BARE_PAYLOAD)

    app = Starlette(routes=[Route("/v1/models/{id}", model)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start_dxgl(data_dir: Path) -> ServeProcess:
    """``dxgl serve`` on an empty data dir (its ``url`` and ``headers`` carry the local account's token)."""
    env = clean_env(DXGL_DATA_DIR=str(data_dir), DXGL_LOG_LEVEL="warning", DXGL_RUN_RENDERS_IN_PROCESS="false")
    return ServeProcess(env).start()


def start_bare() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-bare", str(port)], cwd=ROOT, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/v1/models/x", alive=lambda: process.poll() is None)
    except BaseException:
        stop_process(process)
        raise
    return process, url


async def load(url: str, headers: dict[str, str], requests: int, concurrency: int) -> dict:
    """Send ``requests`` GETs with ``concurrency`` in flight; every answer must be 200."""
    latencies: list[float] = []
    remaining = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for _ in remaining:
                t0 = time.perf_counter()
                r = await client.get(url)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise SystemExit(f"{url} answered {r.status_code}: {r.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": requests,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(requests / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def measure(url: str, headers: dict[str, str], requests: int, concurrency: int) -> dict:
    asyncio.run(load(url, headers, max(200, requests // 10), concurrency))  # warm-up, not counted
    return asyncio.run(load(url, headers, requests, concurrency))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return

    with tempfile.TemporaryDirectory(prefix="dxgl-bench-api-") as tmp, start_dxgl(Path(tmp) / "data") as server:
        r = httpx.post(
            f"{server.url}/v1/models",
            headers=server.headers,
            files={"file": ("Duck.glb", DUCK.read_bytes())},
            timeout=120,
        )
        r.raise_for_status()
        model_id = r.json()["data"]["modelId"]
        dxgl = measure(f"{server.url}/v1/models/{model_id}", server.headers, args.requests, args.concurrency)

    process, url = start_bare()
    try:
        bare = measure(f"{url}/v1/models/Ab3kF9x2qL1m", {}, args.requests, args.concurrency)
    finally:
        stop_process(process)

    ratio = dxgl["requests_per_s"] / bare["requests_per_s"]
    print(
        json.dumps(
            {
                "benchmark": "GET /v1/models/:id vs bare Starlette JSON",
                "server": "uvicorn, 1 worker, log level warning; dxgl on embedded SQLite",
                "load": f"httpx async, concurrency {args.concurrency}, {args.requests} requests after warm-up",
                "cpus": os.cpu_count(),
                "dxgl": dxgl,
                "bare_starlette": bare,
                "ratio": round(ratio, 3),
                "target_ratio": 0.5,
                "meets_target": ratio >= 0.5,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
