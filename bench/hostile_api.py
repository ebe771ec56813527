"""API benchmark: wall seconds for ``POST /v1/models`` to reject each hostile case.

A real ``python -m dxgl.cli serve`` (the deployment shape: what the spawned parser child re-imports
as its main module matters, see the report) on an empty SQLite data dir, renders off; each case's file
is built once and uploaded ``--runs`` times over HTTP; the median is reported. A valid minimal GLB
upload (201, same path through the child process) is the baseline.

Run: .venv/bin/python bench/hostile_api.py  -> prints one JSON object. Figures only; nothing asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.api.helpers import minimal_glb  # noqa: E402
from tests.api.test_hostile_uploads import ALL_CASES  # noqa: E402
from tests.live_server import ServeProcess, clean_env  # noqa: E402


async def timed_upload(client: httpx.AsyncClient, headers: dict, name: str, data: bytes) -> tuple[float, int, str]:
    start = time.perf_counter()
    response = await client.post(
        "/v1/models", headers=headers, files={"file": (name, data, "application/octet-stream")}
    )
    seconds = time.perf_counter() - start
    code = response.json()["error"]["code"] if response.status_code >= 400 else "created"
    return seconds, response.status_code, code


async def run(tmp: Path, runs: int) -> dict:
    env = clean_env(DXGL_DATA_DIR=str(tmp / "data"), DXGL_LOG_LEVEL="warning", DXGL_RUN_RENDERS_IN_PROCESS="false")
    report: dict = {"server": "python -m dxgl.cli serve, SQLite, renders off", "runs_per_case": runs, "cases": {}}
    with ServeProcess(env) as server:
        headers = server.headers
        async with httpx.AsyncClient(base_url=server.url, timeout=300) as client:
            (tmp / "sentinel").mkdir()
            for i, (name, build, expected, _hint) in enumerate(ALL_CASES):
                cases = tmp / f"case{i}"
                cases.mkdir()
                path = build(cases)
                data = path.read_bytes()
                results = [await timed_upload(client, headers, path.name, data) for _ in range(runs)]
                report["cases"][name] = {
                    "median_s": round(statistics.median(r[0] for r in results), 3),
                    "upload_bytes": len(data),
                    "status": sorted({r[1] for r in results}),
                    "code": sorted({r[2] for r in results}),
                    "expected": expected,
                }
            valid = [
                await timed_upload(client, headers, "ok.glb", minimal_glb(f"bench{r}".encode())) for r in range(runs)
            ]
            report["valid_minimal_glb_median_s"] = round(statistics.median(v[0] for v in valid), 3)
    medians = [c["median_s"] for c in report["cases"].values()]
    report.update(
        count=len(medians),
        median_s=round(statistics.median(medians), 3),
        max_s=round(max(medians), 3),
        slowest=sorted(report["cases"], key=lambda n: -report["cases"][n]["median_s"])[:5],
        over_2s=[n for n, c in report["cases"].items() if c["median_s"] > 2.0],
        wrong_code=[n for n, c in report["cases"].items() if c["code"] != [c["expected"]]],
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(Path(tmp), args.runs)), indent=2))


if __name__ == "__main__":
    main()
