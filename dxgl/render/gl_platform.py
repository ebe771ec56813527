"""Choosing the GL platform, once, before vispy touches EGL (RENDERING-NOTES.md).

* A GPU found by EGL device enumeration (``eglQueryDevicesEXT``; Mesa's software device does not
  count): its display comes from ``eglGetPlatformDisplayEXT(EGL_PLATFORM_DEVICE_EXT, device)``, so
  NVIDIA's EGL renders rather than Mesa's. ``DXGL_GPU_INDEX`` picks one of several (0 first).
* None: Mesa's EGL surfaceless platform (llvmpipe on the CPU), and the fallback is logged.

``DXGL_EGL_PLATFORM`` forces one (``surfaceless``, or ``device``: which takes Mesa's software device
when there is no GPU). A vispy app, once created, ignores a
later switch, so this runs at the start of the render process and the choice is logged.

vispy's EGL backend asks ``vispy.ext.egl.eglGetDisplay()`` for its display when it is imported; on
the device platform that function is replaced, before the import, by one that answers the chosen
device's display.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import logging
import os
from dataclasses import asdict, dataclass
from typing import Any

from dxgl.render.types import RenderError

log = logging.getLogger("dxgl.render")

_NVIDIA_EGL_VENDOR_FILES = (
    "/usr/share/glvnd/egl_vendor.d/10_nvidia.json",
    "/etc/glvnd/egl_vendor.d/10_nvidia.json",
    "/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json",  # the NVIDIA container runtime's mount
)

# EGL_EXT_device_base / EGL_EXT_platform_device / EGL_EXT_device_query_name
EGL_PLATFORM_DEVICE_EXT = 0x313F
EGL_EXTENSIONS = 0x3055
EGL_DRM_DEVICE_FILE_EXT = 0x3233
EGL_RENDERER_EXT = 0x335F
_SOFTWARE_DEVICE_EXT = "EGL_MESA_device_software"  # Mesa's llvmpipe device: not a GPU
_MAX_DEVICES = 16

GPU_INDEX_ENV = "DXGL_GPU_INDEX"
FORCE_ENV = "DXGL_EGL_PLATFORM"


@dataclass(frozen=True)
class EglDevice:
    """One device of ``eglQueryDevicesEXT``: its position, DRM node and name when EGL says them."""

    index: int
    drm_file: str
    name: str
    extensions: str

    @property
    def software(self) -> bool:
        return _SOFTWARE_DEVICE_EXT in self.extensions.split()

    @property
    def nvidia(self) -> bool:
        return "EGL_NV_device_cuda" in self.extensions.split()

    def describe(self) -> dict[str, Any]:
        found = asdict(self)
        found.pop("extensions")
        return {**found, "software": self.software, "nvidia": self.nvidia}


def nvidia_present() -> bool:
    """An NVIDIA GPU with NVIDIA's EGL is there, judged from files alone (no EGL call): used where a
    process must not touch EGL (the worker sizing its concurrency)."""
    return os.path.exists("/dev/nvidia0") and (
        any(os.path.exists(p) for p in _NVIDIA_EGL_VENDOR_FILES)
        or bool(glob.glob("/usr/lib*/**/libEGL_nvidia.so*", recursive=True))
    )


def _use_nvidia_vendor_file() -> None:
    """Let glvnd find NVIDIA's EGL where the container runtime mounts it outside glvnd's own paths."""
    if "__EGL_VENDOR_LIBRARY_FILENAMES" in os.environ or not os.path.exists("/dev/nvidia0"):
        return
    found = next((p for p in _NVIDIA_EGL_VENDOR_FILES if os.path.exists(p)), "")
    if found and not found.startswith("/usr/share/") and not found.startswith("/etc/"):
        os.environ["__EGL_VENDOR_LIBRARY_FILENAMES"] = found


def _egl_library() -> Any:
    """libEGL (glvnd's dispatcher, or Mesa's) as vispy will load it; None when there is none."""
    path = os.environ.get("EGL_LIBRARY") or ctypes.util.find_library("EGL")
    if not path:
        return None
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None


def _proc(lib: Any, name: str, restype: Any, argtypes: list[Any]) -> Any:
    """An EGL extension function through ``eglGetProcAddress``; None when EGL lacks it."""
    lib.eglGetProcAddress.restype = ctypes.c_void_p
    lib.eglGetProcAddress.argtypes = [ctypes.c_char_p]
    address = lib.eglGetProcAddress(name.encode())
    if not address:
        return None
    return ctypes.CFUNCTYPE(restype, *argtypes)(address)


def _devices(lib: Any) -> list[tuple[EglDevice, int]]:
    """(device, EGLDeviceEXT handle) for every EGL device; empty without EGL_EXT_device_enumeration."""
    query = _proc(
        lib,
        "eglQueryDevicesEXT",
        ctypes.c_uint,
        [ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int)],
    )
    if query is None:
        return []
    describe = _proc(lib, "eglQueryDeviceStringEXT", ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int])
    handles = (ctypes.c_void_p * _MAX_DEVICES)()
    count = ctypes.c_int(0)
    if not query(_MAX_DEVICES, handles, ctypes.byref(count)):
        return []

    def text(handle: int, name: int) -> str:
        value = describe(handle, name) if describe is not None else None
        return value.decode(errors="replace") if value else ""

    found = []
    for i in range(count.value):
        handle = handles[i]
        if not handle:
            continue
        device = EglDevice(
            index=i,
            drm_file=text(handle, EGL_DRM_DEVICE_FILE_EXT),
            name=text(handle, EGL_RENDERER_EXT),
            extensions=text(handle, EGL_EXTENSIONS),
        )
        found.append((device, handle))
    return found


def egl_devices() -> list[EglDevice]:
    """Every device EGL enumerates (Mesa's software device included), for the platform probe."""
    lib = _egl_library()
    return [] if lib is None else [d for d, _ in _devices(lib)]


def gpu_index() -> int:
    """``DXGL_GPU_INDEX`` (0 when unset): which GPU, counting EGL's GPU devices in order."""
    raw = os.environ.get(GPU_INDEX_ENV, "").strip() or "0"
    try:
        index = int(raw)
    except ValueError:
        raise RenderError(f"{GPU_INDEX_ENV} must be a whole number, got {raw!r}") from None
    if index < 0:
        raise RenderError(f"{GPU_INDEX_ENV} must be 0 or more, got {index}")
    return index


@dataclass(frozen=True)
class Platform:
    """What :func:`choose_platform` picked: ``name`` is ``device`` or ``surfaceless``."""

    name: str
    device: EglDevice | None = None
    forced: bool = False
    gpus: int = 0  # devices the index counted in (GPUs; Mesa's software device when forced without one)

    def describe(self) -> dict[str, Any]:
        return {
            "platform": self.name,
            "device": self.device.describe() if self.device is not None else None,
            "forced": self.forced,
            "gpus": self.gpus,
        }


_chosen: Platform | None = None


def choose_platform() -> Platform:
    """Choose the EGL platform for this process (once; later calls answer the same) and log it."""
    global _chosen
    if _chosen is None:
        _chosen = _choose()
    return _chosen


def _choose() -> Platform:
    forced = os.environ.get(FORCE_ENV, "").strip()
    if forced == "surfaceless":
        os.environ["EGL_PLATFORM"] = "surfaceless"
        log.info("GL platform: EGL surfaceless (forced by %s)", FORCE_ENV)
        return Platform("surfaceless", forced=True)
    if forced not in ("", "device"):
        raise RenderError(f"{FORCE_ENV} must be 'surfaceless' or 'device', got {forced!r}")
    _use_nvidia_vendor_file()
    lib = _egl_library()
    devices = _devices(lib) if lib is not None else []
    gpus = [(d, h) for d, h in devices if not d.software]
    if forced and not gpus:
        # Forced: the device platform even over Mesa's software device (how the path is tested
        # on machines without a GPU).
        gpus = devices
        if not gpus:
            raise RenderError(f"{FORCE_ENV}=device, but EGL enumerates no device")
    if not gpus:
        os.environ["EGL_PLATFORM"] = "surfaceless"
        log.warning("GL platform: no GPU among the EGL devices: falling back to Mesa (EGL surfaceless, llvmpipe)")
        return Platform("surfaceless")
    index = gpu_index()
    if index >= len(gpus):
        raise RenderError(f"{GPU_INDEX_ENV}={index}, but EGL enumerates {len(gpus)} GPU device(s) (0..{len(gpus) - 1})")
    device, handle = gpus[index]
    display = _device_display(lib, handle)
    _hand_display_to_vispy(display)
    os.environ["EGL_PLATFORM"] = "device"
    log.info(
        "GL platform: EGL device %d of %d GPU(s) (%s%s)%s",
        index,
        len(gpus),
        device.name or "unnamed",
        f", {device.drm_file}" if device.drm_file else "",
        f" (forced by {FORCE_ENV})" if forced else "",
    )
    return Platform("device", device=device, forced=bool(forced), gpus=len(gpus))


def _device_display(lib: Any, handle: int) -> int:
    get_display = _proc(
        lib, "eglGetPlatformDisplayEXT", ctypes.c_void_p, [ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    )
    if get_display is None:
        raise RenderError("EGL has device enumeration but no eglGetPlatformDisplayEXT")
    display = get_display(EGL_PLATFORM_DEVICE_EXT, handle, None)
    if not display:
        raise RenderError("eglGetPlatformDisplayEXT(EGL_PLATFORM_DEVICE_EXT) gave no display")
    return int(display)


def _hand_display_to_vispy(display: int) -> None:
    """Make vispy's EGL backend use ``display``: it calls ``egl.eglGetDisplay()`` when imported."""
    from vispy.ext import egl

    def device_display(_native: object = None) -> ctypes.c_void_p:
        return ctypes.c_void_p(display)

    egl.eglGetDisplay = device_display


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
    description = f"EGL {platform.name}: {renderer}, OpenGL {version}"
    log.info("GL context: %s", description)
    return canvas, description


def gl_string(name: int) -> str:
    """``glGetString(name)`` of the current context, "?" when GL gives nothing."""
    from vispy.gloo.gl import gl2

    fn = gl2._lib.glGetString
    fn.restype = ctypes.c_char_p
    fn.argtypes = [ctypes.c_uint]
    value = fn(name)
    return value.decode() if value else "?"
