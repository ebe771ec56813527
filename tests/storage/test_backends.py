"""The one storage interface on both backends: publish, stat, list, ranged streams, copy, fetch,
delete; uploads streamed into the store (a multipart upload on S3) and aborted on failure or over
the limit; what a killed process leaves behind and the sweep that removes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.services.uploads import StreamingUpload
from dxgl.storage import Storage, s3_uploads
from dxgl.storage.s3 import PART_BYTES, S3Storage
from dxgl.storage.s3_config import S3Config
from tests.storage.conftest import s3_storage
from tests.storage.seaweed import SeaweedServer

MIB = 1024 * 1024


def _local_file(tmp_path: Path, data: bytes, name: str = "src.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


async def _read(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.stream(key, start, end)])


def _pending(storage: Storage) -> list[s3_uploads.PendingUpload]:
    return s3_uploads.list_pending(storage.cfg) if isinstance(storage, S3Storage) else []


async def test_publish_stat_stream_and_delete(storage: Storage, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    storage.publish(_local_file(tmp_path, data), "renders/r1/video.mp4")
    storage.publish(_local_file(tmp_path, b"png", "p.png"), "renders/r1/poster.png")
    storage.publish(_local_file(tmp_path, b"other", "o"), "renders/r2/video.mp4")

    assert storage.stat("renders/r1/video.mp4") == len(data)
    assert await storage.stat_async("renders/r1/video.mp4") == len(data)
    assert storage.stat("renders/r1/missing.mp4") is None
    assert await storage.stat_async("renders/nothing/here") is None
    assert await _read(storage, "renders/r1/video.mp4") == data
    assert await _read(storage, "renders/r1/video.mp4", 1000, 1010) == data[1000:1010]
    assert await _read(storage, "renders/r1/video.mp4", len(data) - 3) == data[-3:]
    assert sorted((b.key, b.size) for b in storage.list("renders/")) == [
        ("renders/r1/poster.png", 3),
        ("renders/r1/video.mp4", len(data)),
        ("renders/r2/video.mp4", 5),
    ]

    storage.delete_prefix("renders/r1")
    assert [b.key for b in storage.list("renders/")] == ["renders/r2/video.mp4"]
    storage.delete("renders/r2/video.mp4")
    storage.delete("renders/r2/video.mp4")  # nothing there is fine
    assert list(storage.list("renders/")) == []


async def test_copy_fetch_and_bad_keys(storage: Storage, tmp_path: Path) -> None:
    storage.publish(_local_file(tmp_path, b"model bytes"), "models/a/m.glb")
    storage.copy("models/a/m.glb", "models/a/m2.glb")
    dest = tmp_path / "fetched" / "m.glb"
    dest.parent.mkdir()
    storage.fetch("models/a/m2.glb", dest)
    assert dest.read_bytes() == b"model bytes"
    assert [p.name for p in dest.parent.iterdir()] == ["m.glb"]  # no partial file left beside it
    for bad in ("../etc/passwd", "models/../x", "/abs", "a//b", ""):
        with pytest.raises(ValueError):
            storage.stat(bad)


async def test_a_large_publish_is_a_multipart_upload_and_reads_back_whole(storage: Storage, tmp_path: Path) -> None:
    data = os.urandom(2 * PART_BYTES + 12345)
    storage.publish(_local_file(tmp_path, data), "models/a/big.glb")
    assert storage.size("models/a/big.glb") == len(data)
    assert (
        await _read(storage, "models/a/big.glb", PART_BYTES - 5, PART_BYTES + 5)
        == data[PART_BYTES - 5 : PART_BYTES + 5]
    )
    assert _pending(storage) == []


async def test_streaming_upload_commits_with_its_hash_and_leaves_nothing_when_discarded(
    storage: Storage, tmp_path: Path
) -> None:
    import hashlib

    data = os.urandom(PART_BYTES + MIB)  # past one part: a real multipart upload on S3
    writer = StreamingUpload(storage, limit=len(data))
    for start in range(0, len(data), MIB):
        writer.write(data[start : start + MIB])
        await writer.drain()
    upload = await writer.finish("m.glb")
    assert (upload.size, upload.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert upload.path.read_bytes() == data  # the bounded local copy the ingest sandbox reads
    if isinstance(storage, S3Storage):
        assert upload.staged_key is not None and upload.staged_key.startswith("tmp/")
        assert await _read(storage, upload.staged_key) == data
    else:
        assert upload.staged_key is None  # the local copy is itself what gets published
    upload.discard()
    assert not upload.path.exists()
    assert list(storage.list("tmp/")) == [] and _pending(storage) == []
    assert list(storage.tmp_dir.iterdir()) == []


async def test_over_the_limit_aborts_the_multipart_upload(storage: Storage) -> None:
    writer = StreamingUpload(storage, limit=PART_BYTES + 2 * MIB)
    chunk = os.urandom(MIB)
    with pytest.raises(DxglError) as err:
        for _ in range(PART_BYTES // MIB + 3):
            writer.write(chunk)
            await writer.drain()
    assert err.value.code == ErrorCode.FILE_TOO_LARGE
    if isinstance(storage, S3Storage):
        assert len(_pending(storage)) == 1  # parts are already on the server...
    await writer.abort()
    assert _pending(storage) == []  # ...and gone with the abort: no orphan parts
    assert list(storage.list("tmp/")) == [] and list(storage.tmp_dir.iterdir()) == []


def test_wrong_credentials_are_refused(s3_server: SeaweedServer, tmp_path: Path) -> None:
    """Signatures are checked: the same store with a wrong secret cannot read or write."""
    env = {**s3_server.env(), "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    bad = s3_storage(env, tmp_path)
    with pytest.raises(Exception, match="(?i)denied|forbidden|signature|403"):
        bad.publish(_local_file(tmp_path, b"x"), "models/a/x.glb")


def test_presigned_url_reads_the_object_and_only_that_one(storage: Storage, tmp_path: Path) -> None:
    storage.publish(_local_file(tmp_path, b"poster bytes"), "renders/r/poster.png")
    url = storage.presigned_url("renders/r/poster.png", 60)
    if not isinstance(storage, S3Storage):
        assert url is None  # the local folder streams through the API instead
        return
    assert url is not None
    assert httpx.get(url).content == b"poster bytes"
    assert httpx.get(url.replace("poster.png", "video.mp4")).status_code == 403  # the signature names the key
    expired = storage.presigned_url("renders/r/poster.png", 1)
    assert expired is not None
    time.sleep(2.5)
    assert httpx.get(expired).status_code == 403


_KILLED_UPLOADER = """
import asyncio, os, sys
from pathlib import Path
from dxgl.storage.s3 import S3Storage, PART_BYTES
from dxgl.storage.s3_config import S3Config

async def main():
    storage = S3Storage(S3Config.from_url(sys.argv[1]), Path(sys.argv[2]))
    sink = storage.sink()
    await sink.write(os.urandom(PART_BYTES + 1024))  # one part goes up, a multipart upload is open
    await sink.write(b"x")
    print(sink.key, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def _killed_mid_upload(env: dict[str, str], scratch: Path) -> str:
    """Run a process that starts a multipart upload, and ``kill -9`` it in the middle."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_UPLOADER, env["DXGL_STORAGE_URL"], str(scratch)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        key = proc.stdout.readline().strip()
        assert key.startswith("tmp/"), key
        storage = s3_storage(env, scratch)
        deadline = time.monotonic() + 30
        while not _pending(storage) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    return key


def test_sweep_removes_unfinished_multipart_uploads_and_stale_temporary_objects(
    s3_env: dict[str, str], tmp_path: Path
) -> None:
    storage = s3_storage(s3_env, tmp_path / "scratch")
    killed = _killed_mid_upload(s3_env, tmp_path / "scratch")
    assert len(_pending(storage)) == 1  # the killed process's parts are still on the server
    storage.publish(_local_file(tmp_path, b"half an upload"), "tmp/left-behind.upload")
    storage.publish(_local_file(tmp_path, b"a model"), "models/a/m.glb")

    assert storage.sweep_store(3600) == []  # younger than the max age: an upload may still be running
    assert len(_pending(storage)) == 1

    removed = storage.sweep_store(0, now=time.time() + 5)
    assert sorted(removed) == sorted(["tmp/left-behind.upload", f"multipart:{storage.cfg.full_key(killed)}"])
    assert _pending(storage) == [] and list(storage.list("tmp/")) == []
    assert [b.key for b in storage.list()] == ["models/a/m.glb"]  # published blobs are never touched


def test_storage_url_is_checked() -> None:
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    cfg = S3Config.from_url("s3://bucket/some/prefix/", {**env, "AWS_ENDPOINT_URL": "http://h:1/"})
    assert (cfg.bucket, cfg.prefix, cfg.endpoint, cfg.region) == ("bucket", "some/prefix", "http://h:1", "us-east-1")
    assert (
        S3Config.from_url("s3://b", {**env, "AWS_REGION": "eu-west-3"}).endpoint == "https://s3.eu-west-3.amazonaws.com"
    )
    for bad in ("http://bucket", "s3://", "s3://b/../x", "s3://b?x=1"):
        with pytest.raises(ValueError):
            S3Config.from_url(bad, env)
    with pytest.raises(ValueError, match="AWS_ACCESS_KEY_ID"):
        S3Config.from_url("s3://b", {})
