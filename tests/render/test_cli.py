"""The render command line: real subprocess, real render, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dxgl.render_cli import render_command
from tests.render.conftest import MODELS
from tests.render.ffprobe import probe

pytestmark = pytest.mark.render


def test_module_cli_renders_with_size_override(tmp_path: Path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dxgl.render_cli",
            str(MODELS["BoxTextured"]),
            "-o",
            str(tmp_path),
            "--settings",
            '{"length": 3, "effect": "hero-spin", "aspect": "1:1"}',
            "--size",
            "96x96",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    info = probe(tmp_path / "video.mp4")
    assert (info.width, info.height, info.frame_count) == (96, 96, 90)
    assert (tmp_path / "poster.png").is_file()


def test_bad_settings_size_and_model_exit_2(tmp_path: Path, capsys):
    assert render_command(str(MODELS["Duck"]), str(tmp_path), '{"length": "6"}', None) == 2
    assert "length" in capsys.readouterr().err
    assert render_command(str(MODELS["Duck"]), str(tmp_path), "{not json", None) == 2
    assert render_command(str(MODELS["Duck"]), str(tmp_path), None, "100x") == 2
    bad = tmp_path / "bad.glb"
    bad.write_text("not a model")
    assert render_command(str(bad), str(tmp_path / "o"), '{"length": 3}', "64x36") == 2
    assert "bad.glb" in capsys.readouterr().err


def test_an_environment_overlay_id_needs_a_local_image(tmp_path: Path, capsys):
    settings = '{"length": 3, "environment": "A28TMPwIdwHS"}'
    assert render_command(str(MODELS["Duck"]), str(tmp_path / "o"), settings, "64x36") == 2
    assert "--environment-image" in capsys.readouterr().err
    missing = str(tmp_path / "missing.hdr")
    assert render_command(str(MODELS["Duck"]), str(tmp_path / "o"), settings, "64x36", missing) == 2
    assert "is not a file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before anything was rendered
