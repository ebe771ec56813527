"""Encoder throughput on this machine, printed as JSON (no pass/fail).

    .venv/bin/python bench/encode.py [--frames 60]

Measures JobEncoder frames/s for a 1920x1080 standard job and a 3840x2160 pro job (composite + all
outputs, posters included), the per-frame cost of compositing alone, and the two ProRes 4444
encoders (prores_aw, prores_ks) fed the same 4K RGBA frames directly, which is why encode.py uses aw.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dxgl.render.composite import Compositor
from dxgl.render.encode import EncodePlan, JobEncoder, prores_command


def synthetic_frame(buffer: np.ndarray, i: int, count: int) -> np.ndarray:
    """Draws into (H, W, 4) uint8 ``buffer`` a lit disc (a third of the height) crossing the frame with
    a soft shadow, on transparent black; only the touched box is redrawn, like a renderer's readback."""
    height, width = buffer.shape[:2]
    buffer[...] = 0
    radius = height // 6
    cy, cx = height // 2, int(radius + (width - 2 * radius) * i / max(1, count - 1))
    y0, y1, x0, x1 = cy - radius, cy + radius + radius // 2, cx - radius, cx + radius
    yy, xx = np.mgrid[y0:y1, x0:x1]
    box = buffer[y0:y1, x0:x1]
    shadow = np.abs(yy - (cy + radius)) < radius // 4
    box[shadow] = (0, 0, 0, 90)
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 < radius**2
    shade = (200 - (yy - cy + radius) * 100 // (2 * radius)).astype(np.uint8)
    box[disc, 0], box[disc, 1], box[disc, 2], box[disc, 3] = shade[disc], 60, 40, 255
    return buffer


def job_fps(quality: str, width: int, height: int, frames: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        plan = EncodePlan(Path(tmp), width, height, frames, quality=quality, bg_color=(240, 240, 240))
        buffer = np.zeros((height, width, 4), np.uint8)
        start = time.perf_counter()
        with JobEncoder(plan) as encoder:
            for i in range(frames):
                encoder.write(synthetic_frame(buffer, i, frames))
            outputs = encoder.close()
        seconds = time.perf_counter() - start
        sizes = {p.name: p.stat().st_size for p in vars(outputs).values()}
    return {
        "quality": quality,
        "size": f"{width}x{height}",
        "frames": frames,
        "seconds": round(seconds, 2),
        "fps": round(frames / seconds, 2),
        "bytes": sizes,
    }


def composite_ms(width: int, height: int, repeats: int = 10) -> dict[str, float]:
    comp = Compositor(width, height, (240, 240, 240), watermark=True)
    frame = synthetic_frame(np.zeros((height, width, 4), np.uint8), 5, 10)
    result = {}
    for name, fn in [("over_background", comp.over_background), ("keep_alpha", comp.keep_alpha)]:
        fn(frame)
        start = time.perf_counter()
        for _ in range(repeats):
            fn(frame)
        result[name] = round((time.perf_counter() - start) / repeats * 1000, 1)
    return result


def prores_fps(encoder: str, width: int, height: int, frames: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        plan = EncodePlan(Path(tmp), width, height, frames, quality="pro")
        command = prores_command(plan, Path(tmp) / "video.mov", encoder)
        buffer = np.zeros((height, width, 4), np.uint8)
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdin=subprocess.PIPE)
        assert proc.stdin is not None
        for i in range(frames):
            proc.stdin.write(synthetic_frame(buffer, i, frames).data)
        proc.stdin.close()
        if proc.wait() != 0:
            raise SystemExit(f"{encoder} failed")
        return round(frames / (time.perf_counter() - start), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--prores-frames", type=int, default=20)
    args = parser.parse_args()
    report = {
        "standard_1080p": job_fps("standard", 1920, 1080, args.frames),
        "pro_2160p": job_fps("pro", 3840, 2160, args.frames),
        "composite_ms_1080p": composite_ms(1920, 1080),
        "composite_ms_2160p": composite_ms(3840, 2160),
        "prores_2160p_fps": {
            enc: prores_fps(enc, 3840, 2160, args.prores_frames) for enc in ("prores_aw", "prores_ks")
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
