"""Every hostile case is refused with its code and a helpful message, and writes nothing outside work_dir."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from dxgl.errors import DxglError
from dxgl.ingest import prepare_model

from .hostile_cases import HOSTILE_CASES, MESSAGE_HINTS, lay_out, snapshot


def test_there_are_enough_cases_and_every_case_has_a_hint():
    assert len(HOSTILE_CASES) >= 30
    assert {name for name, _, _ in HOSTILE_CASES} == set(MESSAGE_HINTS)


def _staged_like_the_service(tmp_path: Path, upload: Path) -> Path:
    """A copy of ``upload`` named as the service stages it: files/.tmp/<uuid>.upload."""
    staged = tmp_path / "files" / ".tmp" / f"{uuid.uuid4().hex}.upload"
    staged.parent.mkdir(parents=True)
    shutil.copyfile(upload, staged)
    return staged


@pytest.mark.parametrize("name,build,code", HOSTILE_CASES, ids=[c[0] for c in HOSTILE_CASES])
def test_hostile_upload_is_refused(tmp_path: Path, name: str, build, code: str):
    _, upload = lay_out(tmp_path, build)
    staged = _staged_like_the_service(tmp_path, upload)
    work = tmp_path / "work"
    before = snapshot(tmp_path, {work})

    with pytest.raises(DxglError) as caught:
        prepare_model(staged, work, original_name=upload.name)

    message = caught.value.message
    assert caught.value.code == code, message
    assert 400 <= caught.value.status < 500
    assert MESSAGE_HINTS[name] in message
    # The message names the user's file (or a member of their ZIP), never the internal temporary ones.
    for internal in (".tmp", ".upload", staged.stem, str(tmp_path), str(tmp_path.resolve())):
        assert internal not in message, f"{name}: {message!r} names {internal!r}"
    assert snapshot(tmp_path, {work}) == before
    if work.exists():
        for path in work.rglob("*"):
            assert not path.is_symlink(), f"{path} is a symlink"
            assert path.resolve().is_relative_to(work.resolve())


def test_glb_builders_give_the_same_bytes_every_call(tmp_path: Path):
    """Cases are built once per database by the API tests: a builder must not change between calls."""
    for name, build, _ in HOSTILE_CASES:
        if not name.startswith("glb_"):
            continue
        first, second = tmp_path / f"{name}-1", tmp_path / f"{name}-2"
        first.mkdir()
        second.mkdir()
        assert build(first).read_bytes() == build(second).read_bytes(), name
