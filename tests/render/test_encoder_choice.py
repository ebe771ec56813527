"""Which H.264 encoder an encode uses (libx264 unless the worker's probe set h264_nvenc) and how many
x264 threads (the worker's cores over its concurrency, else every core this process may use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dxgl.render.encode import (
    H264_ENCODER_ENV,
    X264_THREADS_ENV,
    EncodePlan,
    JobEncoder,
    available_cores,
    h264_command,
    threads_for_cores,
)
from dxgl.render.types import RenderError


def _command(tmp_path: Path) -> list[str]:
    plan = EncodePlan(out_dir=tmp_path, width=64, height=36, frame_count=2)
    return h264_command(
        plan, [(tmp_path / "v.mp4", (64, 36), ("fast", 18)), (tmp_path / "w.mp4", (32, 18), ("veryfast", 23))]
    )


def _values(command: list[str], flag: str) -> list[str]:
    return [command[i + 1] for i, arg in enumerate(command) if arg == flag]


def test_libx264_by_default_with_threads_following_the_cores(tmp_path, monkeypatch):
    monkeypatch.delenv(H264_ENCODER_ENV, raising=False)
    monkeypatch.delenv(X264_THREADS_ENV, raising=False)
    command = _command(tmp_path)
    assert _values(command, "-c:v") == ["libx264", "libx264"]
    assert _values(command, "-threads") == [str(threads_for_cores(available_cores()))] * 2
    assert [threads_for_cores(n) for n in (1, 2, 16)] == [1, 3, 24]  # x264's own 1.5 per core


def test_the_worker_sets_the_thread_count(tmp_path, monkeypatch):
    monkeypatch.setenv(X264_THREADS_ENV, "3")
    assert _values(_command(tmp_path), "-threads") == ["3", "3"]


def test_nvenc_when_the_probe_chose_it(tmp_path, monkeypatch):
    monkeypatch.setenv(H264_ENCODER_ENV, "h264_nvenc")
    command = _command(tmp_path)
    assert _values(command, "-c:v") == ["h264_nvenc", "h264_nvenc"]
    assert _values(command, "-cq") == ["19", "24"] and "-threads" not in command


def test_an_unknown_encoder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(H264_ENCODER_ENV, "x265")
    with pytest.raises(RenderError, match=H264_ENCODER_ENV):
        _command(tmp_path)


def test_a_one_thread_encode_still_writes_every_file(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setenv(X264_THREADS_ENV, "1")
    plan = EncodePlan(out_dir=tmp_path / "out", width=64, height=36, frame_count=3)
    frame = np.zeros((36, 64, 4), dtype=np.uint8)
    frame[..., 3] = 255
    with JobEncoder(plan) as encoder:
        for _ in range(3):
            encoder.write(frame)
        outputs = encoder.close()
    assert all(p.stat().st_size > 0 for p in outputs.files())
