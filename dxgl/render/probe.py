"""The platform probe: which EGL device renders, what GL says it is, and whether NVENC works.

Run once at worker start (``dxgl.jobs.capacity``) and by ``bench/gpu.sh``, in a spawned child like
every render (the caller never holds a GL context). The NVENC encode runs before the GL context
exists: no process is started after one (RENDERING-NOTES.md: a fork after a context hangs).
"""

from __future__ import annotations

from typing import Any

from dxgl.proc import ChildError, Emit, run_in_child
from dxgl.render.types import RenderError

PROBE_TIMEOUT_S = 120.0
_GL_VENDOR, _GL_RENDERER, _GL_VERSION = 0x1F00, 0x1F01, 0x1F02


def _probe(try_nvenc: bool, emit: Emit) -> dict[str, Any]:
    """In the child: NVENC first (a tiny encode), then the GL context and its strings."""
    from dxgl.render.child import start_child_logging
    from dxgl.render.encode import available_cores, probe_nvenc
    from dxgl.render.gl_platform import choose_platform, create_canvas, egl_devices, gl_string

    start_child_logging()
    nvenc, nvenc_detail = probe_nvenc() if try_nvenc else (False, "not probed")
    devices = [d.describe() for d in egl_devices()]
    platform = choose_platform()
    canvas, _ = create_canvas()
    try:
        gl = {"vendor": gl_string(_GL_VENDOR), "renderer": gl_string(_GL_RENDERER), "version": gl_string(_GL_VERSION)}
    finally:
        canvas.close()
    return {
        **platform.describe(),
        "egl_devices": devices,
        "gl": gl,
        "nvenc": nvenc,
        "nvenc_detail": nvenc_detail,
        "cores": available_cores(),
    }


def probe_platform(*, try_nvenc: bool = True, timeout_s: float = PROBE_TIMEOUT_S) -> dict[str, Any]:
    """The probe's report (JSON-able): ``platform`` (device | surfaceless), ``device``,
    ``egl_devices``, ``gl`` (vendor, renderer, version), ``nvenc`` (bool), ``nvenc_detail`` (ffmpeg's
    words when it failed), ``cores``. Raises RenderError when no GL context can be made."""
    try:
        report: dict[str, Any] = run_in_child(_probe, (try_nvenc,), name="dxgl-probe", timeout_s=timeout_s)
    except ChildError as exc:
        raise RenderError(f"the GL platform probe failed: {exc}") from None
    return report


def uses_gpu(report: dict[str, Any]) -> bool:
    """Did the probe render on a GPU (not Mesa's llvmpipe)?"""
    renderer = str(report.get("gl", {}).get("renderer", "")).lower()
    return report.get("platform") == "device" and "llvmpipe" not in renderer and "softpipe" not in renderer
