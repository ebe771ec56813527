"""Choosing the GL platform, once, before vispy touches EGL (RENDERING-NOTES.md).

* NVIDIA GPU present (``/dev/nvidia0`` and NVIDIA's EGL vendor file): EGL device platform, so the
  display comes from NVIDIA's EGL rather than Mesa.
* Otherwise: Mesa's EGL surfaceless platform (llvmpipe on the CPU).

``DXGL_EGL_PLATFORM`` forces one (``surfaceless`` or ``device``). A vispy app, once created, ignores a
later switch, so this runs at the start of the render process and the choice is logged.
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Any

log = logging.getLogger("dxgl.render")

_NVIDIA_EGL_VENDOR_FILES = ("/usr/share/glvnd/egl_vendor.d/10_nvidia.json", "/etc/glvnd/egl_vendor.d/10_nvidia.json")


def nvidia_present() -> bool:
    """An NVIDIA GPU with NVIDIA's EGL is there (then the EGL device platform is used)."""
    return os.path.exists("/dev/nvidia0") and (
        any(os.path.exists(p) for p in _NVIDIA_EGL_VENDOR_FILES)
        or bool(glob.glob("/usr/lib*/**/libEGL_nvidia.so*", recursive=True))
    )


def choose_platform() -> str:
    """Set ``EGL_PLATFORM`` for this process and return the platform name."""
    forced = os.environ.get("DXGL_EGL_PLATFORM", "").strip()
    platform = forced or ("device" if nvidia_present() else "surfaceless")
    os.environ["EGL_PLATFORM"] = platform
    if platform == "device":
        # Let glvnd pick NVIDIA's EGL rather than Mesa's for the device platform.
        os.environ.setdefault(
            "__EGL_VENDOR_LIBRARY_FILENAMES", next((p for p in _NVIDIA_EGL_VENDOR_FILES if os.path.exists(p)), "")
        )
        if not os.environ["__EGL_VENDOR_LIBRARY_FILENAMES"]:
            del os.environ["__EGL_VENDOR_LIBRARY_FILENAMES"]
    log.info("GL platform: EGL %s%s", platform, " (forced by DXGL_EGL_PLATFORM)" if forced else "")
    return platform


def create_canvas() -> tuple[Any, str]:
    """Create the offscreen vispy canvas (and so the GL context) on the calling thread.
    Returns (canvas, description) where description names the platform and the GL renderer; the
    canvas is a ``vispy.app.Canvas`` (vispy is untyped)."""
    platform = choose_platform()
    from vispy import app

    app.use_app("egl")
    canvas = app.Canvas(show=False, size=(16, 16))
    canvas.set_current()
    renderer = gl_string(0x1F01)
    version = gl_string(0x1F02)
    description = f"EGL {platform}: {renderer}, OpenGL {version}"
    log.info("GL context: %s", description)
    return canvas, description


def gl_string(name: int) -> str:
    """``glGetString(name)`` of the current context, "?" when GL gives nothing."""
    import ctypes

    from vispy.gloo.gl import gl2

    fn = gl2._lib.glGetString
    fn.restype = ctypes.c_char_p
    fn.argtypes = [ctypes.c_uint]
    value = fn(name)
    return value.decode() if value else "?"
