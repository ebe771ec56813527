"""What counts as the file's fault (``ModelFileError``, which marks a model broken when its system
preview fails) and what does not (the worker's or the machine's: a timeout, memory, a killed child),
through real render children."""

from __future__ import annotations

from pathlib import Path

import pytest

from dxgl.render import JobSpec, RenderError, render_job
from dxgl.render.child import ModelFileError
from dxgl.services.render_settings import system_preview_settings
from tests.pipeline.test_system_preview import pointlike_glb

pytestmark = pytest.mark.render


def _spec() -> JobSpec:
    return JobSpec.from_settings(system_preview_settings(), size=(160, 90), max_length=1)


def test_a_file_with_nothing_to_draw_is_the_files_fault(tmp_path: Path) -> None:
    model = tmp_path / "point.glb"
    model.write_bytes(pointlike_glb())
    with pytest.raises(ModelFileError) as caught:
        render_job(model, _spec(), tmp_path / "out", timeout_s=120)
    assert "point.glb" in str(caught.value)


def test_a_damaged_file_is_the_files_fault(tmp_path: Path) -> None:
    model = tmp_path / "damaged.glb"
    model.write_bytes(b"glTF\x02\x00\x00\x00" + b"\xff" * 64)
    with pytest.raises(ModelFileError):
        render_job(model, _spec(), tmp_path / "out", timeout_s=120)


def test_a_timeout_is_not_the_files_fault(tmp_path: Path, duck: Path) -> None:
    with pytest.raises(RenderError) as caught:
        render_job(duck, _spec(), tmp_path / "out", timeout_s=0.2)
    assert not isinstance(caught.value, ModelFileError)
    assert "longer than" in str(caught.value)


def test_running_over_the_memory_limit_is_not_the_files_fault(tmp_path: Path, duck: Path) -> None:
    with pytest.raises(RenderError) as caught:
        render_job(duck, _spec(), tmp_path / "out", timeout_s=120, memory_limit_bytes=16 * 1024 * 1024)
    assert not isinstance(caught.value, ModelFileError)
