"""The acceptance figure for the S3 backend: a 100 MiB upload to a real ``dxgl serve`` whose blobs
live in SeaweedFS raises the server's resident memory by less than 50 MB and leaves nothing on its
disk (the bounded scratch copy is gone when the request ends; no temporary object or multipart
upload remains in the store). Same streamed body and sampler as tests/api/test_upload_memory.py;
the figure is printed as JSON (run with ``-s`` to see it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from dxgl.storage import s3_uploads
from dxgl.storage.s3 import S3Storage
from dxgl.storage.s3_config import S3Config
from tests.api.test_upload_memory import LIMIT, MAX_RISE, RssSampler, post_streamed
from tests.conftest import ASSETS
from tests.live_server import ServeProcess, clean_env
from tests.storage.seaweed import SeaweedServer

pytestmark = pytest.mark.slow  # 100 MB through a real server into a real S3 server


@pytest.fixture
def s3_server_env(s3_server: SeaweedServer) -> dict[str, str]:
    return s3_server.env()


@pytest.fixture
def server(tmp_path: Path, s3_server_env: dict[str, str]) -> Iterator[ServeProcess]:
    env = clean_env(
        **s3_server_env,
        DXGL_DATA_DIR=str(tmp_path / "data"),
        DXGL_LOG_LEVEL="warning",
        DXGL_RUN_RENDERS_IN_PROCESS="false",
    )
    with ServeProcess(env) as server:
        yield server


def _api_disk(server: ServeProcess) -> list[Path]:
    """Every file the API holds besides its SQLite database (embedded default here)."""
    return [p for p in server.data_dir.rglob("*") if p.is_file() and not p.name.startswith("dxgl.sqlite3")]


def test_100_mb_upload_to_s3_does_not_raise_server_memory_by_50_mb(
    server: ServeProcess, s3_server_env: dict[str, str]
) -> None:
    store = S3Storage(S3Config.from_url(s3_server_env["DXGL_STORAGE_URL"], s3_server_env), server.data_dir / "x")
    warm = httpx.post(
        f"{server.url}/v1/models",
        headers=server.headers,
        files={"file": ("Duck.glb", (ASSETS / "Duck.glb").read_bytes())},
        timeout=120,
    )
    assert warm.status_code == 201, warm.text  # imports and first-request costs are in the baseline
    baseline = psutil.Process(server.pid).memory_info().rss
    with RssSampler(server.pid) as sampler:
        started = time.monotonic()
        r = post_streamed(server, LIMIT)
        seconds = time.monotonic() - started
    assert r.status_code == 201, r.text
    model_id = r.json()["data"]["modelId"]
    rise = max(sampler.samples) - baseline
    left_on_disk = _api_disk(server)
    print(
        json.dumps(
            {
                "backend": "s3",
                "upload_bytes": LIMIT,
                "server_rss_baseline_mb": round(baseline / 1e6, 1),
                "server_rss_peak_mb": round(max(sampler.samples) / 1e6, 1),
                "rss_rise_mb": round(rise / 1e6, 1),
                "samples": len(sampler.samples),
                "upload_seconds": round(seconds, 1),
                "files_left_on_api_disk": len(left_on_disk),
            }
        )
    )
    stored = {b.key: b.size for b in store.list("models")}
    assert LIMIT in stored.values() and any(k.endswith(f"{model_id}.glb") for k in stored)
    assert len(sampler.samples) > 10
    assert rise < MAX_RISE, f"server RSS rose by {rise / 1e6:.1f} MB during a 100 MB upload to S3"
    assert left_on_disk == []
    assert list(store.list("tmp")) == [] and s3_uploads.list_pending(store.cfg) == []


def test_one_byte_over_the_limit_leaves_nothing_anywhere(server: ServeProcess, s3_server_env: dict[str, str]) -> None:
    store = S3Storage(S3Config.from_url(s3_server_env["DXGL_STORAGE_URL"], s3_server_env), server.data_dir / "x")
    r = post_streamed(server, LIMIT + 1, valid_glb=False)
    assert r.status_code == 400 and r.json()["error"]["code"] == "file_too_large", r.text
    assert _api_disk(server) == []
    assert list(store.list()) == [] and s3_uploads.list_pending(store.cfg) == []
