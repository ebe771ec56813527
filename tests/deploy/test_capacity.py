"""How many renders a worker runs at once and what its probe hands its render children."""

from __future__ import annotations

from dxgl.config import Settings
from dxgl.jobs.capacity import encoder_environment, render_concurrency
from dxgl.render.encode import H264_ENCODER_ENV, X264_THREADS_ENV


def test_one_render_at_a_time_on_llvmpipe_and_more_on_a_gpu():
    auto = Settings(worker_concurrency=0)
    assert render_concurrency(auto, gpu=False, cores=16) == 1
    assert render_concurrency(auto, gpu=True, cores=16) == 4
    assert render_concurrency(auto, gpu=True, cores=2) == 2  # at least two: the GPU is idle otherwise
    assert render_concurrency(auto, gpu=True, cores=128) == 8
    assert render_concurrency(Settings(worker_concurrency=3), gpu=False, cores=2) == 3  # the setting wins


def test_the_probe_picks_nvenc_only_when_it_worked_and_threads_follow_cores_over_concurrency():
    assert encoder_environment({"nvenc": True, "cores": 16}, 4, {}) == {
        H264_ENCODER_ENV: "h264_nvenc",
        X264_THREADS_ENV: "6",  # x264's 1.5 threads per core, for 16 cores over 4 renders
    }
    assert encoder_environment({"nvenc": False, "cores": 2}, 1, {}) == {
        H264_ENCODER_ENV: "libx264",
        X264_THREADS_ENV: "3",
    }
    assert encoder_environment({"nvenc": False, "cores": 2}, 4, {})[X264_THREADS_ENV] == "1"


def test_an_operators_own_choice_is_kept():
    chosen = encoder_environment({"nvenc": True, "cores": 16}, 4, {H264_ENCODER_ENV: "libx264", X264_THREADS_ENV: "2"})
    assert chosen == {}
