"""Render benchmarks; prints one JSON object. Slow (minutes): run by hand, not in tests.

    .venv/bin/python bench/render.py [--quick]

* ms per 1080p frame (2x SSAA, 3840x2160 internal) for Duck, CesiumMilkTruck, DamagedHelmet,
  median of a 30-frame turntable, and pyrender at the same output and internal size in the same run
  (pyrender lives in a separate venv, PYRENDER_PYTHON, default /tmp/pyr/bin/python; absent -> said so);
* a standard turntable job end to end vs max(render-only, encode-only) for the same frames;
* a 4K pro job's wall time.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dxgl.render import JobSpec, render_job  # noqa: E402
from dxgl.services.render_settings import validate_render_settings  # noqa: E402

MODELS = Path(__file__).resolve().parents[2] / "shared" / "assets" / "models"
BENCH_MODELS = {"Duck": MODELS / "Duck.glb", "CesiumMilkTruck": MODELS / "CesiumMilkTruck.glb",
                "DamagedHelmet": MODELS / "DamagedHelmet-gltf" / "DamagedHelmet.gltf"}
PYRENDER_PYTHON = os.environ.get("PYRENDER_PYTHON", "/tmp/pyr/bin/python")

PYRENDER_SCRIPT = r"""
import os, sys, time, json, statistics
os.environ["PYOPENGL_PLATFORM"] = "egl"
os.environ.setdefault("EGL_PLATFORM", "surfaceless")
import numpy as np, trimesh, pyrender
path, w, h, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tm = trimesh.load(path, force="scene")
scene = pyrender.Scene.from_trimesh_scene(tm, bg_color=[0, 0, 0, 0], ambient_light=[0.3, 0.3, 0.3])
c = tm.bounds.mean(axis=0); r = float(np.linalg.norm(tm.extents)) / 2
cam = pyrender.PerspectiveCamera(yfov=np.radians(30), aspectRatio=w / h)
pose = np.eye(4); pose[:3, 3] = c + [0, 0, 2.2 * r / np.tan(np.radians(15))]
cn = scene.add(cam, pose=pose)
scene.add(pyrender.DirectionalLight(intensity=3.0), pose=pose)
ren = pyrender.OffscreenRenderer(2 * w, 2 * h)  # same internal size as dxgl's 2x SSAA
times = []
for i in range(n):
    a = 2 * np.pi * i / n
    p = np.eye(4); p[:3, 3] = c + 2.2 * r / np.tan(np.radians(15)) * np.array([np.sin(a), 0.2, np.cos(a)])
    z = (p[:3, 3] - c); z /= np.linalg.norm(z); x = np.cross([0, 1, 0], z); x /= np.linalg.norm(x)
    p[:3, 0], p[:3, 1], p[:3, 2] = x, np.cross(z, x), z
    scene.set_pose(cn, p)
    t = time.perf_counter()
    color, _ = ren.render(scene, flags=pyrender.RenderFlags.RGBA)
    small = color.reshape(h, 2, w, 2, 4).mean(axis=(1, 3)).astype(np.uint8)  # same output size
    times.append((time.perf_counter() - t) * 1000)
print(json.dumps({"ms_median": statistics.median(times[2:]), "version": pyrender.__version__}))
"""


def _spec(settings: dict, **changes) -> JobSpec:
    return replace(JobSpec.from_settings(validate_render_settings(settings)), **changes)


def _render_only_child(model: str, spec: JobSpec, keep: bool):
    """In a spawned child: draw every frame; return per-frame ms, total s and (optionally) frames."""
    from dxgl.render.camera import camera_path
    from dxgl.render.renderer import Renderer
    from dxgl.render.scene import load_scene

    scene = load_scene(Path(model))
    poses = camera_path(spec, scene.frame_points, scene.bounds)
    renderer = Renderer(scene, spec.width, spec.height)
    times, frames = [], []
    start = time.perf_counter()
    for pose in poses:
        t = time.perf_counter()
        frame = renderer.draw(pose, shadows=spec.shadows, reflector=spec.reflector, tilt_x=spec.tilt_x)
        times.append((time.perf_counter() - t) * 1000)
        if keep:
            frames.append(frame.copy())
    total = time.perf_counter() - start
    encode_s = None
    if keep:
        from dxgl.render.encode import EncodePlan, JobEncoder

        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            enc = JobEncoder(EncodePlan(out_dir=Path(tmp), width=spec.width, height=spec.height,
                                        frame_count=len(frames), fps=spec.fps, quality=spec.quality))
            for frame in frames:
                enc.write(frame)
            enc.close()
            encode_s = time.perf_counter() - t
    return times, total, encode_s, renderer.description


def _in_child(fn, *args):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def _pyrender(model: Path, width: int, height: int, frames: int) -> dict:
    if not Path(PYRENDER_PYTHON).exists():
        return {"available": False, "why": f"no pyrender interpreter at {PYRENDER_PYTHON}"}
    result = subprocess.run([PYRENDER_PYTHON, "-c", PYRENDER_SCRIPT, str(model), str(width), str(height), str(frames)],
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        return {"available": False, "why": result.stderr.strip().splitlines()[-1][:300] if result.stderr else "failed"}
    return {"available": True, **json.loads(result.stdout.strip().splitlines()[-1])}


def main() -> None:
    quick = "--quick" in sys.argv
    frames_per_orbit = 10 if quick else 30
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "frame_ms_1080p_ssaa2": {}}
    for name, path in BENCH_MODELS.items():
        spec = _spec({"shadows": True}, fps=frames_per_orbit, length=1)
        times, _, _, gl = _in_child(_render_only_child, str(path), spec, False)
        report["gl"] = gl
        report["frame_ms_1080p_ssaa2"][name] = {
            "dxgl_ms_median": round(statistics.median(times[2:]), 1),
            "pyrender": _pyrender(path, 1920, 1080, frames_per_orbit),
        }

    length = 2 if quick else 6
    spec = _spec({"length": length}, )
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        render_job(BENCH_MODELS["Duck"], spec, Path(tmp))
        end_to_end = time.perf_counter() - t
    _, render_s, encode_s, _ = _in_child(_render_only_child, str(BENCH_MODELS["Duck"]), spec, True)
    report["standard_turntable_job_duck"] = {
        "frames": spec.frame_count, "size": f"{spec.width}x{spec.height}",
        "end_to_end_s": round(end_to_end, 2), "render_only_s": round(render_s, 2),
        "encode_only_s": round(encode_s, 2), "max_render_encode_s": round(max(render_s, encode_s), 2),
        "note": "end_to_end includes process spawn, scene load, context creation and ffmpeg start",
    }
    pro = _spec({"quality": "pro", "length": length})
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        render_job(BENCH_MODELS["Duck"], pro, Path(tmp))
        report["pro_4k_turntable_job_duck"] = {"frames": pro.frame_count, "size": f"{pro.width}x{pro.height}",
                                               "end_to_end_s": round(time.perf_counter() - t, 2)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
