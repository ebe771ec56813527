"""A 100 MB upload to a real ``dxgl serve`` (uvicorn in a subprocess) must not be held in memory.

The client streams the multipart body from a generator (1 MiB at a time, never the whole file),
psutil samples the server process's resident memory every few milliseconds during the request,
and the rise over the warmed-up baseline must stay under 50 MB. The file is a real GLB (a tiny
triangle whose buffer is the 100 MiB BIN chunk), so it is a valid upload that is stored, not a
rejected one. One byte more is 400 file_too_large and leaves nothing in the temporary folder.
"""

from __future__ import annotations

import json
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ASSETS
from tests.live_server import ServeProcess, clean_env

MIB = 1024 * 1024
LIMIT = 100 * MIB  # the server's default DXGL_UPLOAD_LIMIT_BYTES
MAX_RISE = 50 * 1000 * 1000
CHUNK = MIB
BOUNDARY = "dxgl-upload-memory-test-boundary"

pytestmark = pytest.mark.slow  # 100 MB through a real server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServeProcess]:
    data_dir = tmp_path / "data"
    env = clean_env(DXGL_DATA_DIR=str(data_dir), DXGL_LOG_LEVEL="warning", DXGL_RUN_RENDERS_IN_PROCESS="false")
    with ServeProcess(env) as server:
        yield server


# --- the streamed bodies ------------------------------------------------------------------------


def glb_prefix(total_size: int) -> tuple[bytes, int]:
    """GLB header + JSON chunk + BIN chunk header for a GLB of exactly ``total_size`` bytes whose
    one buffer is the whole BIN chunk; returns (prefix, BIN length). The BIN starts with one triangle."""

    def document(bin_len: int) -> bytes:
        doc = {
            "asset": {"version": "2.0"},
            "scene": 0,
            "scenes": [{"nodes": [0]}],
            "nodes": [{"mesh": 0}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
            "accessors": [
                {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]}
            ],
            "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 36}],
            "buffers": [{"byteLength": bin_len}],
        }
        raw = json.dumps(doc).encode()
        return raw + b" " * (-len(raw) % 4)

    bin_len = total_size - 12 - 8 - len(document(total_size)) - 8  # the length's digits barely change it
    json_chunk = document(bin_len)
    bin_len = total_size - 12 - 8 - len(json_chunk) - 8
    assert bin_len % 4 == 0 and len(document(bin_len)) == len(json_chunk)
    prefix = (
        struct.pack("<4sII", b"glTF", 2, total_size)
        + struct.pack("<I4s", len(json_chunk), b"JSON")
        + json_chunk
        + struct.pack("<I4s", bin_len, b"BIN\x00")
    )
    return prefix, bin_len


TRIANGLE = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)


def file_stream(total_size: int, *, valid_glb: bool = True) -> Iterator[bytes]:
    """The file's bytes, ``CHUNK`` at a time, generated as they are sent."""
    if valid_glb:
        prefix, bin_len = glb_prefix(total_size)
        yield prefix + TRIANGLE
        remaining = bin_len - len(TRIANGLE)
    else:
        remaining = total_size
    zeros = bytes(CHUNK)
    while remaining > 0:
        n = min(CHUNK, remaining)
        yield zeros[:n]
        remaining -= n


def multipart(file_size: int, *, valid_glb: bool = True) -> tuple[Iterator[bytes], int]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="renderSettings"\r\n\r\n'
        f"{json.dumps({'aspect': '1:1'})}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.glb"\r\n'
        "Content-Type: model/gltf-binary\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from file_stream(file_size, valid_glb=valid_glb)
        yield tail

    return body(), len(head) + file_size + len(tail)


def post_streamed(server: ServeProcess, file_size: int, *, valid_glb: bool = True) -> httpx.Response:
    body, length = multipart(file_size, valid_glb=valid_glb)
    headers = {
        **server.headers,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(length),
    }
    with httpx.Client(timeout=300) as client:
        return client.post(f"{server.url}/v1/models", content=body, headers=headers)


class RssSampler:
    """Samples a process's resident set size in a thread until stopped."""

    def __init__(self, pid: int, interval_s: float = 0.005) -> None:
        self.process = psutil.Process(pid)
        self.interval_s = interval_s
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.process.memory_info().rss)
            time.sleep(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- tests ----------------------------------------------------------------------------------------


def test_glb_builder_makes_a_glb_of_the_exact_size() -> None:
    size = 3 * MIB + 8
    data = b"".join(file_stream(size))
    assert len(data) == size
    magic, version, total = struct.unpack_from("<4sII", data)
    assert (magic, version, total) == (b"glTF", 2, size)


def test_100_mb_upload_does_not_raise_server_memory_by_50_mb(server: ServeProcess) -> None:
    warm = httpx.post(
        f"{server.url}/v1/models",
        headers=server.headers,
        files={"file": ("Duck.glb", (ASSETS / "Duck.glb").read_bytes())},
        timeout=120,
    )
    assert warm.status_code == 201, warm.text  # imports and first-request costs are in the baseline
    process = psutil.Process(server.pid)
    baseline = process.memory_info().rss
    with RssSampler(server.pid) as sampler:
        started = time.monotonic()
        r = post_streamed(server, LIMIT)
        seconds = time.monotonic() - started
    assert r.status_code == 201, r.text
    model = httpx.get(f"{server.url}/v1/models/{r.json()['data']['modelId']}", headers=server.headers).json()["data"]
    assert model["fileSize"] == LIMIT
    rise = max(sampler.samples) - baseline
    print(
        json.dumps(
            {
                "upload_bytes": LIMIT,
                "server_rss_baseline_mb": round(baseline / 1e6, 1),
                "server_rss_peak_mb": round(max(sampler.samples) / 1e6, 1),
                "rss_rise_mb": round(rise / 1e6, 1),
                "samples": len(sampler.samples),
                "upload_seconds": round(seconds, 1),
            }
        )
    )
    assert len(sampler.samples) > 10
    assert rise < MAX_RISE, f"server RSS rose by {rise / 1e6:.1f} MB during a 100 MB upload"


def test_one_byte_over_the_limit_is_file_too_large_and_leaves_no_temp_file(server: ServeProcess) -> None:
    r = post_streamed(server, LIMIT + 1, valid_glb=False)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == {"code": "file_too_large", "message": r.json()["error"]["message"], "status": 400}
    temp_dir = server.data_dir / "files" / ".tmp"
    assert temp_dir.is_dir()
    assert [p for p in temp_dir.rglob("*") if p.is_file()] == []
    r = httpx.get(f"{server.url}/v1/models", headers=server.headers)
    assert r.json()["meta"]["total"] == 0
