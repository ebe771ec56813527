"""Upload -> system preview done, on the embedded default; prints one JSON object.

    EGL_PLATFORM=surfaceless .venv/bin/python bench/preview_latency.py [--runs N] [--model PATH]

Starts ``dxgl serve`` (SQLite, in-process runner, previews on, no render caps) in a subprocess with a
fresh data folder, uploads the model (Duck by default; each run a fresh data folder, so never a
duplicate), and times from sending the upload until its system preview (480x270, 3 s turntable) is
``done``, polling ``GET /v1/renders/:id`` every 50 ms. Also reports when the documented first render
(1080p, 6 s) finished, to show that the preview did not wait for it. A figure to report, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import ServeProcess, clean_env

MODELS = Path(__file__).resolve().parents[2] / "shared" / "assets" / "models"


def _wait(client: httpx.Client, headers: dict, render_id: str, limit_s: float = 900) -> tuple[dict, float]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        body = client.get(f"/v1/renders/{render_id}", headers=headers).json()["data"]
        if body["status"] in ("done", "error", "failed"):
            return body, time.monotonic()
        time.sleep(0.05)
    raise SystemExit(f"render {render_id} did not finish within {limit_s} s")


def one_run(model: Path, *, wait_first: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="dxgl-preview-bench-") as tmp:
        env = clean_env(DXGL_DATA_DIR=str(Path(tmp) / "data"), DXGL_SYSTEM_PREVIEW="1", DXGL_LOG_LEVEL="warning")
        with ServeProcess(env) as server, httpx.Client(base_url=server.url, timeout=120) as client:
            headers = server.headers
            started = time.monotonic()
            r = client.post("/v1/models", headers=headers, files={"file": (model.name, model.read_bytes())})
            r.raise_for_status()
            uploaded = time.monotonic()
            data = r.json()["data"]
            renders = client.get(f"/v1/renders?model={data['modelId']}&systemPreview=true", headers=headers)
            preview_id = renders.json()["data"][0]["id"]
            preview, preview_at = _wait(client, headers, preview_id)
            result = {
                "upload_s": round(uploaded - started, 3),
                "upload_to_preview_done_s": round(preview_at - started, 3),
                "preview_status": preview["status"],
                "preview_file_size": preview["fileSize"],
            }
            if wait_first:
                first, first_at = _wait(client, headers, data["renderId"])
                result["upload_to_first_render_done_s"] = round(first_at - started, 3)
                result["first_render_status"] = first["status"]
            return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", type=Path, default=MODELS / "Duck.glb")
    parser.add_argument("--no-first", action="store_true", help="do not wait for the 1080p first render")
    args = parser.parse_args()
    runs = [one_run(args.model, wait_first=not args.no_first and i == 0) for i in range(args.runs)]
    times = [r["upload_to_preview_done_s"] for r in runs]
    print(
        json.dumps(
            {
                "bench": "upload -> system preview done (embedded default, SQLite, 480x270, 3 s turntable)",
                "model": args.model.name,
                "runs": runs,
                "median_s": round(statistics.median(times), 3),
                "min_s": min(times),
                "max_s": max(times),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
