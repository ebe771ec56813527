"""Standard renders per hour with one and with two arq workers on this machine; prints one JSON object.

    .venv/bin/python bench/throughput.py [--renders 4] [--workers 1 2] [--length 6]

For each worker count: a fresh PostgreSQL database and Redis database, ``dxgl serve`` (the API) and
that many ``dxgl worker`` processes (the production shape's processes; they share this machine's data
folder for blobs, which a multi-machine deployment replaces with the S3 store). Once /v1/health sees
every worker (their heartbeats), ``--renders`` standard renders of Duck (1080p, ``--length`` s, each
with its own rotateY so that none shares frames with another) are submitted at once; the clock runs
from the first submission until the last render is done. renders/hour = renders x 3600 / that time.
A figure to report, not a test; other processes on the machine count against it (loadavg is given).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import DXGL, ServeProcess, bearer, clean_env, stop_process

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "assets" / "models"
PG_ADMIN = os.environ.get("DXGL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("DXGL_BENCH_REDIS", "redis://127.0.0.1:6379/11")


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _flush_redis() -> None:
    import redis.asyncio as redis

    client = redis.from_url(REDIS)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def _account(env: dict[str, str]) -> str:
    """Migrate the fresh database and make the local account (as ``dxgl serve`` does on SQLite)."""
    from dxgl.cli import bootstrap_local_account
    from dxgl.config import Settings
    from dxgl.runtime import Runtime

    settings = Settings(
        data_dir=Path(env["DXGL_DATA_DIR"]), database_url=env["DXGL_DATABASE_URL"], redis_url=env["DXGL_REDIS_URL"]
    )
    rt = await Runtime.start(settings)
    try:
        created = await bootstrap_local_account(rt)
    finally:
        await rt.close()
    assert created is not None
    return created[0]


def _wait_workers(client: httpx.Client, count: int, limit_s: float = 180) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        workers = client.get("/v1/health").json()["data"]["workers"]
        if workers["count"] >= count:
            return
        time.sleep(0.5)
    raise SystemExit(f"{count} worker(s) not seen within {limit_s} s")


def one(workers: int, renders: int, length: int, model: Path, smoke: bool = False) -> dict[str, Any]:
    db = f"dxgl_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{db}"'))
    asyncio.run(_flush_redis())
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="dxgl-throughput-") as tmp:
            env = clean_env(
                DXGL_DATA_DIR=str(Path(tmp) / "data"),
                DXGL_DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}",
                DXGL_REDIS_URL=REDIS,
                DXGL_SYSTEM_PREVIEW="0",
                DXGL_RENDER_MAX_SIZE="160" if smoke else "0",
                DXGL_RENDER_MAX_LENGTH="0",
                DXGL_LOG_LEVEL="warning",
                DXGL_WORKER_HEARTBEAT_SECONDS="8",
            )
            token = asyncio.run(_account(env))
            server = ServeProcess(env).start(expect_token=False)
            procs.append(server.process)  # type: ignore[arg-type]
            with httpx.Client(base_url=server.url, timeout=120) as client:
                for i in range(workers):
                    log = open(Path(tmp) / f"worker{i}.log", "wb")  # noqa: SIM115 (closed with the process)
                    procs.append(subprocess.Popen([*DXGL, "worker"], cwd=ROOT, env=env, stdout=log, stderr=log))
                _wait_workers(client, workers)
                headers = bearer(token)
                load_start = os.getloadavg()
                began = time.monotonic()
                upload = client.post(
                    "/v1/models",
                    headers=headers,
                    files={"file": (model.name, model.read_bytes())},
                    data={"renderSettings": json.dumps({"length": length, "rotateY": 0})},
                )
                upload.raise_for_status()
                ids = [upload.json()["data"]["renderId"]]
                model_id = upload.json()["data"]["modelId"]
                for i in range(1, renders):
                    r = client.post(
                        "/v1/renders",
                        headers=headers,
                        json={"modelId": model_id, "renderSettings": {"length": length, "rotateY": 10 * i}},
                    )
                    r.raise_for_status()
                    ids.append(r.json()["data"]["id"])
                statuses: dict[str, str] = {}
                deadline = began + 1800
                while time.monotonic() < deadline:
                    statuses = {
                        i: client.get(f"/v1/renders/{i}", headers=headers).json()["data"]["status"] for i in ids
                    }
                    if all(s in ("done", "error", "failed") for s in statuses.values()):
                        break
                    time.sleep(0.5)
                wall = time.monotonic() - began
                load_end = os.getloadavg()
    finally:
        for proc in procs:
            stop_process(proc)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    done = sum(1 for s in statuses.values() if s == "done")
    return {
        "workers": workers,
        "renders": renders,
        "done": done,
        "wall_s": round(wall, 1),
        "s_per_render": round(wall / renders, 1),
        "renders_per_hour": round(done * 3600 / wall, 1),
        "loadavg_start": load_start,
        "loadavg_end": load_end,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--length", type=int, default=6, help="seconds of video (3..15; standard is 6)")
    parser.add_argument("--model", type=Path, default=MODELS / "Duck.glb")
    parser.add_argument("--smoke", action="store_true", help="160 px renders: checks the script only")
    args = parser.parse_args()
    runs = [one(n, args.renders, args.length, args.model, args.smoke) for n in args.workers]
    print(
        json.dumps(
            {
                "job": f"{args.model.name} standard 1080p {args.length} s turntable (H.264 + web + thumb + posters)",
                "machine": {"cpus": os.cpu_count()},
                "runs": runs,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
