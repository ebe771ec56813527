"""Pipeline benchmark (run by hand; prints JSON).

1. Batch frame sharing: one standard render vs a batch of 4 variants differing only in bgColor
   (render_variants: frames drawn once, encoded per variant), same model, same run.
2. One standard render through the API on the embedded default: upload -> done, wall time.

    EGL_PLATFORM=surfaceless .venv/bin/python bench/pipeline.py [--model PATH] [--length 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EGL_PLATFORM", "surfaceless")

from dxgl.render import render_job, render_variants  # noqa: E402
from dxgl.render.spec import JobSpec  # noqa: E402
from dxgl.services.render_settings import validate_render_settings  # noqa: E402

DEFAULT_MODEL = ROOT.parent / "shared" / "assets" / "models" / "Duck.glb"


def batch_sharing(model: Path, length: int) -> dict:
    base = JobSpec.from_settings(validate_render_settings({"length": length}))
    colours = [(255, 255, 255), (0, 0, 0), (255, 0, 0), (0, 80, 160)]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        render_job(model, base, Path(tmp) / "one")
        one = time.perf_counter() - start
        jobs = [(replace(base, bg_color=c), Path(tmp) / f"v{i}") for i, c in enumerate(colours)]
        start = time.perf_counter()
        render_variants(model, jobs)
        four = time.perf_counter() - start
    return {
        "one_render_s": round(one, 2),
        "four_bgcolor_variants_s": round(four, 2),
        "ratio": round(four / one, 3),
        "target_ratio": 1.5,
        "frames": base.frame_count,
        "size": [base.width, base.height],
    }


async def through_api(model: Path, length: int) -> dict:
    import httpx

    from dxgl.config import Settings
    from dxgl.runtime import Runtime
    from dxgl.services import accounts, auth
    from tests.live_server import LiveServer

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), run_renders_in_process=True)
        rt = await Runtime.start(settings)
        async with rt.unit_of_work() as session:
            account = await accounts.create_account(session, email="bench@example.com", paid_credits=10)
            _, token = await auth.create_token(session, account=account)
        await rt.close()
        with LiveServer(settings) as server:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
                start = time.perf_counter()
                r = await client.post(
                    "/v1/models",
                    headers=headers,
                    files={"file": (model.name, model.read_bytes())},
                    data={"renderSettings": json.dumps({"length": length})},
                )
                render_id = r.json()["data"]["renderId"]
                while True:
                    status = (await client.get(f"/v1/renders/{render_id}", headers=headers)).json()["data"]["status"]
                    if status in ("done", "error"):
                        break
                    await asyncio.sleep(0.2)
                wall = time.perf_counter() - start
    return {"status": status, "upload_to_done_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--length", type=int, default=6)
    args = parser.parse_args()
    result = {
        "model": args.model.name,
        "load_avg_start": os.getloadavg()[0],
        "batch_sharing": batch_sharing(args.model, args.length),
        "standard_render_through_api": asyncio.run(through_api(args.model, args.length)),
        "load_avg_end": os.getloadavg()[0],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
