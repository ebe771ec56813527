"""``dxgl storage migrate``: a local folder's blobs copied into the S3 store, each verified by
size and SHA-256, resumable after an interruption, the local folder left as it was."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from dxgl.storage import LocalStorage
from dxgl.storage_migrate import migrate
from tests.live_server import clean_env
from tests.storage.conftest import s3_storage

ROOT = Path(__file__).resolve().parents[2]


def _folder(root: Path) -> dict[str, bytes]:
    blobs = {
        "models/acct/m1.glb": os.urandom(3000),
        "models/acct/m1.decoded.glb": os.urandom(2000),
        "renders/r1/video.mp4": os.urandom(9 * 1024 * 1024),  # a multipart upload
        "renders/r1/poster.png": b"png",
        "overlays/o1.png": b"overlay",
    }
    for key, data in blobs.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    (root / ".tmp").mkdir()
    (root / ".tmp" / "half.upload").write_bytes(b"not a blob")
    return blobs


def test_the_cli_copies_every_blob_verified_and_a_second_run_copies_nothing(
    tmp_path: Path, s3_env: dict[str, str]
) -> None:
    files = tmp_path / "old" / "files"
    blobs = _folder(files)
    env = clean_env(**s3_env, DXGL_DATA_DIR=str(tmp_path / "data"))
    command = [sys.executable, "-m", "dxgl.cli", "storage", "migrate", "--from", str(files)]
    first = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "done: 5 blob(s) copied" in first.stdout and "0 already there" in first.stdout
    store = s3_storage(s3_env, tmp_path / "scratch")
    assert {b.key: b.size for b in store.list()} == {k: len(v) for k, v in blobs.items()}
    for key, data in blobs.items():
        target = tmp_path / "check"
        store.fetch(key, target)
        assert target.read_bytes() == data
    assert (files / ".tmp" / "half.upload").exists()  # the local folder is left as it was

    second = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and "done: 0 blob(s) copied" in second.stdout and "5 already there" in second.stdout


async def test_an_interrupted_run_resumes_and_a_missing_object_is_copied_again(
    tmp_path: Path, s3_env: dict[str, str]
) -> None:
    files = tmp_path / "files"
    blobs = _folder(files)
    store = s3_storage(s3_env, tmp_path / "scratch")
    journal = tmp_path / "data" / "storage-migrate.jsonl"
    await migrate(LocalStorage(files), store, journal, out=io.StringIO())
    lines = journal.read_text().splitlines()
    # As if the run had been killed after two blobs (the last line cut short)...
    journal.write_text("\n".join(lines[:2]) + "\n" + lines[2][:10])
    # ...and one copied object were lost since.
    first_key = __import__("json").loads(lines[0])["key"]
    store.delete(first_key)
    report = await migrate(LocalStorage(files), store, journal, out=io.StringIO())
    assert (report.copied, report.skipped) == (4, 1)
    assert {b.key: b.size for b in store.list()} == {k: len(v) for k, v in blobs.items()}
