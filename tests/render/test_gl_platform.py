"""Choosing the GL platform through EGL device enumeration, DXGL_GPU_INDEX, the logged fall-back to
Mesa, and the platform probe a worker runs at start. On a machine without a GPU the device path is
taken by forcing it (DXGL_EGL_PLATFORM=device), which then uses Mesa's software EGL device."""

from __future__ import annotations

import pytest

from dxgl.render.gl_platform import egl_devices, nvidia_present
from dxgl.render.probe import probe_platform, uses_gpu
from dxgl.render.types import RenderError

pytestmark = pytest.mark.render
no_gpu = pytest.mark.skipif(nvidia_present(), reason="a machine without a GPU")


def test_egl_enumerates_devices():
    devices = egl_devices()
    assert devices, "EGL_EXT_device_enumeration gives at least Mesa's software device"
    assert [d.index for d in devices] == list(range(len(devices)))


@no_gpu
def test_without_a_gpu_the_probe_falls_back_to_mesa_surfaceless(monkeypatch):
    monkeypatch.delenv("DXGL_EGL_PLATFORM", raising=False)
    report = probe_platform(try_nvenc=False)
    assert report["platform"] == "surfaceless" and report["device"] is None and report["gpus"] == 0
    assert "llvmpipe" in report["gl"]["renderer"]
    assert report["nvenc"] is False and report["nvenc_detail"] == "not probed"
    assert report["cores"] >= 1
    assert not uses_gpu(report)


@no_gpu
def test_the_device_platform_renders_through_eglgetplatformdisplayext(monkeypatch):
    # The display comes from eglGetPlatformDisplayEXT(EGL_PLATFORM_DEVICE_EXT, device 0), handed
    # to vispy: the GL context works and is Mesa's software device here.
    monkeypatch.setenv("DXGL_EGL_PLATFORM", "device")
    monkeypatch.setenv("DXGL_GPU_INDEX", "0")
    report = probe_platform(try_nvenc=False)
    assert report["platform"] == "device" and report["forced"] is True
    assert report["device"]["index"] == 0 and report["device"]["software"] is True
    assert "llvmpipe" in report["gl"]["renderer"]
    assert not uses_gpu(report)


@no_gpu
def test_a_gpu_index_past_the_devices_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DXGL_EGL_PLATFORM", "device")
    monkeypatch.setenv("DXGL_GPU_INDEX", "7")
    with pytest.raises(RenderError, match="DXGL_GPU_INDEX=7"):
        probe_platform(try_nvenc=False)


def test_a_gpu_index_that_is_not_a_number_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DXGL_EGL_PLATFORM", "device")
    monkeypatch.setenv("DXGL_GPU_INDEX", "first")
    with pytest.raises(RenderError, match="whole number"):
        probe_platform(try_nvenc=False)


@no_gpu
def test_nvenc_probe_fails_cleanly_without_an_nvidia_encoder(monkeypatch):
    monkeypatch.delenv("DXGL_EGL_PLATFORM", raising=False)
    report = probe_platform()
    assert report["nvenc"] is False and report["nvenc_detail"]
