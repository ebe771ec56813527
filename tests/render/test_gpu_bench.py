"""bench/gpu.sh, the one prepared command for a GPU machine, runs here too (the CPU fall-back) at
tiny sizes and prints the JSON it promises: the platform probe, ms per frame for the three bench
models, a standard and a 4K pro job."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from dxgl.render.gl_platform import nvidia_present

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.render, pytest.mark.slow]


def test_gpu_sh_tiny_prints_the_report():
    done = subprocess.run(
        [str(ROOT / "bench" / "gpu.sh"), "--tiny"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    probe = report["probe"]
    assert probe["gl_renderer"] and isinstance(probe["nvenc"], bool) and probe["egl_devices"]
    if not nvidia_present():
        assert probe["egl_platform"] == "surfaceless" and "llvmpipe" in probe["gl_renderer"]
        assert report["h264_encoder"] == "libx264"
    assert set(report["frame_ms_tiny"]) == {"Duck", "CesiumMilkTruck", "DamagedHelmet"}
    assert all(entry["median_ms"] > 0 for entry in report["frame_ms_tiny"].values())
    assert report["standard_job"]["files"]["video.mp4"] > 0
    assert report["pro_4k_job"]["files"]["video.mov"] > 0
    assert report["skipped"] == []
