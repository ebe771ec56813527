"""The GPU bench's Python half (``bench/gpu.sh`` sets up the machine, then runs this). Prints one JSON.

    python bench/gpu_bench.py            # full: 1080p frames, a standard job, a 4K pro job
    python bench/gpu_bench.py --tiny     # the same steps at tiny sizes (a CPU smoke test)

* ``probe``: the worker's own start-up probe (``dxgl.render.probe``): EGL platform and device, the GL
  renderer string, NVENC yes / no (one tiny encode), cores;
* ``frame_ms``: ms per 1080p frame (2x SSAA, shadows, readback), median and p90 of a 30-frame
  turntable (first 2 dropped), for Duck, CesiumMilkTruck and DamagedHelmet;
* ``standard_job`` (Duck, 6 s 1080p H.264 + web + thumb + posters) and ``pro_4k_job`` (Duck, 3 s
  3840x2160 ProRes 4444 + web + thumb): wall time of ``dxgl.render.render_job``, the render library
  alone (spawned child, scene load, GL context, frames, encoders), no server or database; with the
  H.264 encoder the worker's probe would choose (NVENC when it works, else libx264).

Needs only the render library's own dependencies (numpy, trimesh, vispy, Pillow, imageio-ffmpeg,
scipy): no database, queue or web stack, so that it runs on a bare GPU machine. Models come from
``DXGL_BENCH_MODELS`` (gpu.sh points it at the carried copies), else ``DXGL_ASSETS``, else
``../shared/assets/models``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dxgl.contract import BASE_DEFAULTS, Quality
from dxgl.render import JobSpec, render_job
from dxgl.render.encode import H264_ENCODER_ENV, LIBX264, NVENC
from dxgl.render.probe import probe_platform

MODELS = Path(
    os.environ.get("DXGL_BENCH_MODELS")
    or os.environ.get("DXGL_ASSETS")  # as tests/assets.py
    or Path(__file__).resolve().parents[2] / "shared/assets/models"
)
BENCH_MODELS = {
    "Duck": MODELS / "Duck.glb",
    "CesiumMilkTruck": MODELS / "CesiumMilkTruck.glb",
    "DamagedHelmet": MODELS / "DamagedHelmet-gltf" / "DamagedHelmet.gltf",
}
BUDGET_S = 200.0  # gpu.sh must finish in 4 minutes, the machine set-up included: later steps are skipped past this


def spec(quality: str, seconds: int, size: tuple[int, int] | None = None, **changes: Any) -> JobSpec:
    """A job of the default settings at ``quality`` (the bench needs no settings validation)."""
    settings = {**BASE_DEFAULTS, "quality": quality, "length": seconds}
    return replace(JobSpec.from_settings(settings, size=size), **changes)


def frame_times(model: str, job: JobSpec) -> dict[str, Any]:
    """In a spawned child: ms per drawn frame (GL draw, resolve and readback) over ``job``'s path."""
    from dxgl.render.camera import camera_path
    from dxgl.render.renderer import Renderer
    from dxgl.render.scene import load_scene

    scene = load_scene(Path(model))
    poses = camera_path(job, scene.frame_points, scene.bounds)
    renderer = Renderer(scene, job.width, job.height)
    times = []
    for pose in poses:
        start = time.perf_counter()
        renderer.draw(pose, shadows=job.shadows, reflector=job.reflector, tilt_x=job.tilt_x)
        times.append((time.perf_counter() - start) * 1000)
    renderer.close()
    kept = times[2:] or times
    return {
        "frames": len(times),
        "size": f"{job.width}x{job.height}",
        "median_ms": round(statistics.median(kept), 2),
        "p90_ms": round(sorted(kept)[int(0.9 * (len(kept) - 1))], 2),
    }


def in_child(fn: Any, *args: Any) -> Any:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def timed_job(model: Path, job: JobSpec) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        outputs = render_job(model, job, Path(tmp))
        wall = time.perf_counter() - start
        sizes = {p.name: p.stat().st_size for p in outputs.files()}
    return {
        "frames": job.frame_count,
        "size": f"{job.width}x{job.height}",
        "wall_s": round(wall, 2),
        "ms_per_frame": round(wall * 1000 / job.frame_count, 1),
        "files": sizes,
    }


def main() -> None:
    tiny = "--tiny" in sys.argv
    began = time.perf_counter()
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg_start": os.getloadavg()},
        "tiny": tiny,
        "skipped": [],
    }
    probe = probe_platform()
    report["probe"] = {
        "egl_platform": probe["platform"],
        "egl_device": probe["device"],
        "egl_devices": probe["egl_devices"],
        "gl_renderer": probe["gl"]["renderer"],
        "gl_version": probe["gl"]["version"],
        "gl_vendor": probe["gl"]["vendor"],
        "nvenc": probe["nvenc"],
        "nvenc_detail": probe["nvenc_detail"],
        "cores": probe["cores"],
    }
    # As the worker does: NVENC when the probe's encode worked, else libx264 (kept if set by hand).
    os.environ.setdefault(H264_ENCODER_ENV, NVENC if probe["nvenc"] else LIBX264)
    report["h264_encoder"] = os.environ[H264_ENCODER_ENV]

    frames, size = (6, (320, 180)) if tiny else (30, None)
    report["frame_ms_1080p_ssaa2" if not tiny else "frame_ms_tiny"] = per_model = {}
    for name, path in BENCH_MODELS.items():
        if time.perf_counter() - began > BUDGET_S:
            report["skipped"].append(f"frame_ms {name}")
            continue
        job = spec(Quality.STANDARD, 3, size, fps=frames, length=1)
        per_model[name] = in_child(frame_times, str(path), job)

    jobs = {
        "standard_job": (spec(Quality.STANDARD, 3, (320, 180)) if tiny else spec(Quality.STANDARD, 6)),
        "pro_4k_job": (spec(Quality.PRO, 3, (640, 360), fps=10) if tiny else spec(Quality.PRO, 3)),
    }
    for key, job in jobs.items():
        if time.perf_counter() - began > BUDGET_S:
            report["skipped"].append(key)
            continue
        report[key] = {"model": "Duck", "quality": job.quality, **timed_job(BENCH_MODELS["Duck"], job)}
    report["total_s"] = round(time.perf_counter() - began, 1)
    report["note"] = (
        "render library only (spawned child, scene load, GL context, frames, encoders), no server or "
        "database; frame_ms: Renderer.draw with shadows, 2x SSAA resolve and RGBA readback"
    )
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
