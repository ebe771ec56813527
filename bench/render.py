"""Render benchmarks; prints one JSON object. Slow (minutes): run by hand, not in tests.

    EGL_PLATFORM=surfaceless .venv/bin/python bench/render.py [--quick]

* ms per 1080p frame (2x SSAA, 3840x2160 internal) for Duck, CesiumMilkTruck, DamagedHelmet, median
  of a 30-frame turntable (10 with --quick; first 2 frames dropped), and in the same run pyrender
  (separate venv, PYRENDER_PYTHON, default /tmp/pyr/bin/python; absent -> said so), two ways:
  - ssaa2_plus_downsample: pyrender at the same 3840x2160 internal size, then the fastest 2x -> 1080p
    downsample of the candidates (numpy mean, numpy uint16 sum, Pillow BOX resize, Pillow reduce(2),
    OpenCV INTER_AREA if cv2 is installed), each timed once on a real frame in that process; render,
    downsample and render+downsample medians are reported separately, with the candidates' times;
  - native_msaa: pyrender at 1920x1080 with only its built-in 4x MSAA (see the note on PYRENDER_SCRIPT);
  and ratios dxgl ms / pyrender ms for both (below 1: dxgl is faster);
* a standard turntable job end to end vs max(render-only, encode-only) for the same frames;
* a 4K pro job's wall time.

    EGL_PLATFORM=surfaceless .venv/bin/python bench/render.py --before REV [--rounds N]

compares frame times with an earlier commit instead, in one run: REV is checked out into a temporary
git worktree and each bench model's 30-frame 1080p orbit (2x SSAA, shadows on, the default look) is
drawn alternately by REV's code and by this working tree's, N rounds each (default 3), in fresh
processes; it prints the medians and the ratio after / before per model.

pyrender venv: python3 -m venv /tmp/pyr && /tmp/pyr/bin/pip install pyrender==0.1.45 pillow
opencv-python-headless (works with its pinned PyOpenGL 3.1.0 and numpy 2 over EGL on llvmpipe).
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

from dxgl.render import JobSpec, render_job
from dxgl.services.render_settings import validate_render_settings

MODELS = Path(__file__).resolve().parents[2] / "shared" / "assets" / "models"
BENCH_MODELS = {
    "Duck": MODELS / "Duck.glb",
    "CesiumMilkTruck": MODELS / "CesiumMilkTruck.glb",
    "DamagedHelmet": MODELS / "DamagedHelmet-gltf" / "DamagedHelmet.gltf",
}
PYRENDER_PYTHON = os.environ.get("PYRENDER_PYTHON", "/tmp/pyr/bin/python")

# pyrender 0.1.45's OffscreenRenderer always draws into a 4-sample multisampled framebuffer: in
# pyrender/renderer.py, _configure_main_framebuffer allocates _main_fb_ms with
# glRenderbufferStorageMultisample(GL_RENDERBUFFER, 4, ...), _configure_forward_pass_viewport binds it
# for every offscreen render, _forward_pass glEnable(GL_MULTISAMPLE)s unless RenderFlags.SEG, and
# _read_main_framebuffer resolves it into a single-sample FBO with glBlitFramebuffer before
# glReadPixels. It is not optional (no flag turns it off for a colour render), and the EGL config in
# pyrender/platforms/egl.py asks for no multisampled surface: the MSAA comes from the FBO alone. So the
# 2x run below is 2x SSAA on top of 4x MSAA, and the native run is pyrender's own 4x MSAA at 1080p.
# Every render also reads back and linearises depth in numpy (no flag skips that for RGBA renders).
# The script reports the sample count GL gives the multisampled colour buffer (msaa_samples).
PYRENDER_SCRIPT = r"""
import os, sys, time, json, statistics
os.environ["PYOPENGL_PLATFORM"] = "egl"
os.environ.setdefault("EGL_PLATFORM", "surfaceless")
import numpy as np, trimesh, pyrender
from OpenGL import GL
from PIL import Image
path, w, h, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tm = trimesh.load(path, force="scene")
scene = pyrender.Scene.from_trimesh_scene(tm, bg_color=[0, 0, 0, 0], ambient_light=[0.3, 0.3, 0.3])
c = tm.bounds.mean(axis=0); r = float(np.linalg.norm(tm.extents)) / 2
cam = pyrender.PerspectiveCamera(yfov=np.radians(30), aspectRatio=w / h)
pose = np.eye(4); pose[:3, 3] = c + [0, 0, 2.2 * r / np.tan(np.radians(15))]
cn = scene.add(cam, pose=pose)
scene.add(pyrender.DirectionalLight(intensity=3.0), pose=pose)

def orbit(i):
    a = 2 * np.pi * i / n
    p = np.eye(4); p[:3, 3] = c + 2.2 * r / np.tan(np.radians(15)) * np.array([np.sin(a), 0.2, np.cos(a)])
    z = (p[:3, 3] - c); z /= np.linalg.norm(z); x = np.cross([0, 1, 0], z); x /= np.linalg.norm(x)
    p[:3, 0], p[:3, 1], p[:3, 2] = x, np.cross(z, x), z
    return p

def msaa_samples(ren):
    try:
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, ren._renderer._main_cb_ms)
        return int(GL.glGetRenderbufferParameteriv(GL.GL_RENDERBUFFER, GL.GL_RENDERBUFFER_SAMPLES))
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"

def numpy_uint16(a):
    s = a[0::2, 0::2].astype(np.uint16) + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]
    return ((s + 2) >> 2).astype(np.uint8)

# 2x -> 1x downsamples a pyrender user might write; each returns an (h, w, 4) uint8 array.
candidates = {
    "numpy_reshape_mean": lambda a: a.reshape(h, 2, w, 2, 4).mean(axis=(1, 3)).astype(np.uint8),
    "numpy_uint16_sum": numpy_uint16,
    "pil_resize_box": lambda a: np.asarray(Image.fromarray(a).resize((w, h), Image.Resampling.BOX)),
    "pil_reduce_2": lambda a: np.asarray(Image.fromarray(a).reduce(2)),
}
try:
    import cv2
    candidates["cv2_resize_inter_area"] = lambda a: cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA)
except ImportError:
    pass

def run(ren, down):
    render_ms, down_ms, total_ms = [], [], []
    for i in range(n):
        scene.set_pose(cn, orbit(i))
        t0 = time.perf_counter()
        color, _ = ren.render(scene, flags=pyrender.RenderFlags.RGBA)
        t1 = time.perf_counter()
        if down is not None:
            small = down(color)
        t2 = time.perf_counter()
        render_ms.append((t1 - t0) * 1000); down_ms.append((t2 - t1) * 1000); total_ms.append((t2 - t0) * 1000)
    med = lambda v: round(statistics.median(v[2:]), 1)
    return med(render_ms), med(down_ms), med(total_ms)

out = {"version": pyrender.__version__}
ren = pyrender.OffscreenRenderer(2 * w, 2 * h)  # same internal size as dxgl's 2x SSAA
out["gl_renderer"] = GL.glGetString(GL.GL_RENDERER).decode()
scene.set_pose(cn, orbit(0))
color, _ = ren.render(scene, flags=pyrender.RenderFlags.RGBA)
samples_2x = msaa_samples(ren)
cand_ms = {}
for name, fn in candidates.items():
    try:
        assert fn(color).shape == (h, w, 4)
        ts = []
        for _ in range(5):
            t = time.perf_counter(); fn(color); ts.append((time.perf_counter() - t) * 1000)
        cand_ms[name] = round(statistics.median(ts), 1)
    except Exception as exc:
        cand_ms[name] = f"failed: {type(exc).__name__}: {exc}"[:200]
timed = {k: v for k, v in cand_ms.items() if isinstance(v, float)}
best = min(timed, key=timed.get)
render_ms, down_ms, total_ms = run(ren, candidates[best])
out["ssaa2_plus_downsample"] = {
    "internal_size": f"{2 * w}x{2 * h}", "output_size": f"{w}x{h}", "msaa_samples": samples_2x,
    "render_ms_median": render_ms, "downsample_ms_median": down_ms, "total_ms_median": total_ms,
    "downsample": best, "downsample_candidates_ms_median_of_5": cand_ms,
}
ren.delete()
ren = pyrender.OffscreenRenderer(w, h)  # native output size, pyrender's built-in MSAA only
scene.set_pose(cn, orbit(0))
ren.render(scene, flags=pyrender.RenderFlags.RGBA)
samples_native = msaa_samples(ren)
render_ms, _, _ = run(ren, None)
out["native_msaa"] = {"size": f"{w}x{h}", "msaa_samples": samples_native, "render_ms_median": render_ms}
ren.delete()
print(json.dumps(out))
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
    renderer = Renderer(scene, spec.width, spec.height, look=spec.look)
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
            enc = JobEncoder(
                EncodePlan(
                    out_dir=Path(tmp),
                    width=spec.width,
                    height=spec.height,
                    frame_count=len(frames),
                    fps=spec.fps,
                    quality=spec.quality,
                )
            )
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
    result = subprocess.run(
        [PYRENDER_PYTHON, "-c", PYRENDER_SCRIPT, str(model), str(width), str(height), str(frames)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        return {"available": False, "why": result.stderr.strip().splitlines()[-1][:300] if result.stderr else "failed"}
    return {"available": True, **json.loads(result.stdout.strip().splitlines()[-1])}


# Drawn by each tree's own code: the same script, run with that tree first on sys.path.
FRAME_TIMES_SCRIPT = r"""
import json, statistics, sys, time
from dataclasses import replace
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import dxgl
assert Path(dxgl.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), dxgl.__file__
from dxgl.render.camera import camera_path
from dxgl.render.renderer import Renderer
from dxgl.render.scene import load_scene
from dxgl.render.spec import JobSpec
from dxgl.services.render_settings import validate_render_settings
spec = replace(JobSpec.from_settings(validate_render_settings({"shadows": True})), fps=int(sys.argv[3]), length=1)
scene = load_scene(Path(sys.argv[2]))
poses = camera_path(spec, scene.frame_points, scene.bounds)
renderer = Renderer(scene, spec.width, spec.height)
times = []
for pose in poses:
    t = time.perf_counter()
    renderer.draw(pose, shadows=spec.shadows, reflector=spec.reflector, tilt_x=spec.tilt_x)
    times.append((time.perf_counter() - t) * 1000)
print(json.dumps({"median_ms": statistics.median(times[2:]), "gl": renderer.description}))
"""


def _frame_times(tree: Path, model: Path, frames: int) -> float:
    env = {**os.environ, "EGL_PLATFORM": os.environ.get("EGL_PLATFORM", "surfaceless")}
    result = subprocess.run(
        [sys.executable, "-c", FRAME_TIMES_SCRIPT, str(tree), str(model), str(frames)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tree,
        env=env,
    )
    if result.returncode != 0:
        raise SystemExit(f"frame-time run in {tree} failed: {result.stderr[-2000:]}")
    return float(json.loads(result.stdout.strip().splitlines()[-1])["median_ms"])


def compare_with(rev: str, rounds: int) -> None:
    """Frame times of ``rev`` and of this working tree, alternately, in one run (module docstring)."""
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(here), "worktree", "add", "--detach", str(before), rev], check=True, capture_output=True
        )
        try:
            report: dict = {
                "before": rev,
                "after": "working tree",
                "rounds": rounds,
                "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()},
                "models": {},
            }
            for name, path in BENCH_MODELS.items():
                runs: dict[str, list[float]] = {"before": [], "after": []}
                for _ in range(rounds):
                    runs["before"].append(_frame_times(before, path, 30))
                    runs["after"].append(_frame_times(here, path, 30))
                b, a = statistics.median(runs["before"]), statistics.median(runs["after"])
                report["models"][name] = {
                    "before_ms": round(b, 1),
                    "after_ms": round(a, 1),
                    "ratio_after_over_before": round(a / b, 3),
                    "runs_ms": {k: [round(x, 1) for x in v] for k, v in runs.items()},
                }
            report["machine"]["loadavg_end"] = os.getloadavg()
            print(json.dumps(report, indent=2))
        finally:
            subprocess.run(["git", "-C", str(here), "worktree", "remove", "--force", str(before)], capture_output=True)


def main() -> None:
    if "--before" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
        compare_with(sys.argv[sys.argv.index("--before") + 1], rounds)
        return
    quick = "--quick" in sys.argv
    frames_per_orbit = 10 if quick else 30
    report: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg_start": os.getloadavg()},
        "frame_ms_1080p_ssaa2": {},
    }
    for name, path in BENCH_MODELS.items():
        spec = _spec({"shadows": True}, fps=frames_per_orbit, length=1)
        times, _, _, gl = _in_child(_render_only_child, str(path), spec, False)
        report["gl"] = gl
        dxgl_ms = round(statistics.median(times[2:]), 1)
        entry: dict = {"dxgl_ms_median": dxgl_ms, "pyrender": _pyrender(path, 1920, 1080, frames_per_orbit)}
        if entry["pyrender"]["available"]:
            ssaa = entry["pyrender"]["ssaa2_plus_downsample"]["total_ms_median"]
            native = entry["pyrender"]["native_msaa"]["render_ms_median"]
            entry["ratio_dxgl_over_pyrender_ssaa2_plus_downsample"] = round(dxgl_ms / ssaa, 2)
            entry["ratio_dxgl_over_pyrender_native_msaa"] = round(dxgl_ms / native, 2)
        report["frame_ms_1080p_ssaa2"][name] = entry
    report["frame_ms_note"] = (
        "dxgl: Renderer.draw with shadows, 2x SSAA resolve and 1080p RGBA readback. pyrender: render() "
        "(always 4x MSAA, also reads depth) of a similar orbit, without a ground shadow; ssaa2 total_ms is "
        "the median of per-frame render+downsample sums. Ratios are dxgl ms / pyrender ms: below 1, dxgl is faster."
    )
    length = 3 if quick else 6  # renderSettings.length must be 3..15 s
    spec = _spec({"length": length})
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        render_job(BENCH_MODELS["Duck"], spec, Path(tmp))
        end_to_end = time.perf_counter() - t
    _, render_s, encode_s, _ = _in_child(_render_only_child, str(BENCH_MODELS["Duck"]), spec, True)
    report["standard_turntable_job_duck"] = {
        "frames": spec.frame_count,
        "size": f"{spec.width}x{spec.height}",
        "end_to_end_s": round(end_to_end, 2),
        "render_only_s": round(render_s, 2),
        "encode_only_s": round(encode_s, 2),
        "max_render_encode_s": round(max(render_s, encode_s), 2),
        "note": "end_to_end includes process spawn, scene load, context creation and ffmpeg start",
    }
    pro = _spec({"quality": "pro", "length": length})
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        render_job(BENCH_MODELS["Duck"], pro, Path(tmp))
        report["pro_4k_turntable_job_duck"] = {
            "frames": pro.frame_count,
            "size": f"{pro.width}x{pro.height}",
            "end_to_end_s": round(time.perf_counter() - t, 2),
        }
    report["machine"]["loadavg_end"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
