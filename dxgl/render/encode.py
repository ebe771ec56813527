"""Turns a job's rendered frames into its files: main video, web and thumbnail variants, posters.

Outputs in ``plan.out_dir`` (names are the API's bundle members):

| file | standard / 4k | pro |
|---|---|---|
| ``video.mp4`` / ``video.mov`` | H.264 yuv420p, full size, composited | ProRes 4444 yuva444p10le (prores_aw), transparent: foreground + watermark only |
| ``web.mp4`` | H.264, long side at most 1280 (standard) / 1920 (4k, pro), fast start, composited | same |
| ``thumb.mp4`` | H.264, a quarter of each side (480x270 for 1080p), composited | same |
| ``poster.png`` | frame ``poster_frame``, full size, RGB, composited | same |
| ``poster_small.png`` | the same, 480 px on the long side | same |

"Composited" means background (colour or image) + render + foreground layer + watermark; see
``dxgl.render.composite``. The bgColor and background image are never applied to the .mov; the
foreground layer and the watermark are applied to every output, the .mov included.

All H.264 and ProRes streams are converted from RGB as BT.709 (ffmpeg's default would be BT.601),
limited range, and tagged bt709 for primaries, transfer and matrix, in the stream and the container.
Every output has constant frame rate ``plan.fps`` and exactly ``plan.frame_count`` frames.

H.264 encoder: libx264 with threads sized by the cores this process may use (``x264_threads``), or
NVENC (``h264_nvenc``) when the worker's start-up probe found it working (``probe_nvenc``; the worker
sets ``DXGL_H264_ENCODER`` for its render children, docs/deploy.md). Data-centre GPUs such as the
H100 / H200 have no NVENC: there the probe fails and libx264 stays.

Pipeline: ``write`` composites in the caller's thread (numpy releases the GIL for the big operations)
and hands the result to a writer thread over a small bounded queue; the writer feeds raw frames to
one ffmpeg process whose filter graph splits and scales them into every H.264 output (pro adds a
second ffmpeg process for the .mov, fed straight RGBA). Posters are written in ``write`` when the
poster frame arrives, and ``on_poster`` is called right after, in the caller's thread.
"""

from __future__ import annotations

import os
import queue
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import imageio_ffmpeg
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from dxgl.contract import DEFAULT_ALIGNMENT, FPS, POSTER_SMALL_LONG_SIDE, QUALITY_TIERS, Codec, Quality
from dxgl.render.composite import Compositor
from dxgl.render.spec import DEFAULT_BG_COLOR
from dxgl.render.types import RenderError, RenderOutputs

WEB_MAX_LONG_SIDE = {Quality.STANDARD: 1280, Quality.UHD_4K: 1920, Quality.PRO: 1920}
QUEUE_FRAMES = 3  # frames in flight between write() and ffmpeg: enough to smooth, bounded memory

# Main H.264: visually lossless for product shots (CRF 18). On 2 CPU cores the encoder competes with
# the renderer for CPU, so presets are "fast" (main) and "veryfast" (web, thumb): measured 26 -> 34
# frames/s for the three 1080p outputs together, files within a few percent of "medium".
MAIN_H264 = {Quality.STANDARD: ("fast", 18), Quality.UHD_4K: ("fast", 18)}
WEB_H264 = ("veryfast", 23)
THUMB_H264 = ("veryfast", 24)
PRORES_ENCODER = "prores_aw"  # ~4x faster than prores_ks at 4K here; both keep alpha (bench/encode.py)
_PRORES_4444_PROFILE = {"prores_aw": "4", "prores_ks": "4444"}  # the two encoders name it differently

# Which H.264 encoder (libx264 or h264_nvenc) and how many x264 threads: set by the worker for its
# render children after its probe (dxgl.jobs.capacity); unset, libx264 on every core this process has.
H264_ENCODER_ENV = "DXGL_H264_ENCODER"
X264_THREADS_ENV = "DXGL_X264_THREADS"
LIBX264 = "libx264"
NVENC = "h264_nvenc"
H264_ENCODERS = (LIBX264, NVENC)
_PROBE_TIMEOUT_S = 30.0

# ffmpeg would convert RGB to YUV as BT.601 and tag nothing: convert, then tag, as BT.709 limited range.
_BT709_FILTER = "out_color_matrix=bt709:out_range=tv"
_BT709_PARAMS = "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
_BT709_TAGS = [
    "-color_primaries",
    "bt709",
    "-color_trc",
    "bt709",
    "-colorspace",
    "bt709",
    "-color_range",
    "tv",
]


@dataclass
class EncodePlan:
    """What one job's encoder must produce. ``width`` and ``height`` must be even."""

    out_dir: Path
    width: int
    height: int
    frame_count: int
    fps: int = FPS
    quality: str = Quality.STANDARD  # a contract.Quality value
    bg_color: tuple[int, int, int] = DEFAULT_BG_COLOR
    watermark: bool = False
    bg_image: Path | None = None
    bg_align: str = DEFAULT_ALIGNMENT
    fg_image: Path | None = None
    fg_align: str = DEFAULT_ALIGNMENT
    poster_frame: int = 0

    @property
    def codec(self) -> Codec:
        """The main video's codec (the quality tier's)."""
        return QUALITY_TIERS[Quality(self.quality)].codec


def _even(value: float) -> int:
    """Nearest integer rounded down to even, at least 2 (yuv420p needs even sides)."""
    return max(2, int(round(value)) // 2 * 2)


def web_size(width: int, height: int, quality: str) -> tuple[int, int]:
    """Size of web.mp4: the frame shrunk so its long side is at most the tier's cap, never enlarged."""
    scale = min(1.0, WEB_MAX_LONG_SIDE[Quality(quality)] / max(width, height))
    return _even(width * scale), _even(height * scale)


def thumb_size(width: int, height: int) -> tuple[int, int]:
    """Size of thumb.mp4: a quarter of each side, made even (1920x1080 -> 480x270)."""
    return _even(width / 4), _even(height / 4)


def poster_small_size(width: int, height: int) -> tuple[int, int]:
    """Size of poster_small.png: ``POSTER_SMALL_LONG_SIDE`` (480) px on the long side, aspect kept."""
    scale = POSTER_SMALL_LONG_SIDE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def validate_plan(plan: EncodePlan) -> None:
    """Raise RenderError for a plan no encoder run could satisfy."""
    if plan.quality not in tuple(Quality):
        raise RenderError(f"unknown quality {plan.quality!r}")
    if plan.width < 2 or plan.height < 2 or plan.width % 2 or plan.height % 2:
        raise RenderError(f"video size must be even on both sides, got {plan.width}x{plan.height}")
    if plan.frame_count < 1 or plan.fps < 1:
        raise RenderError("frame_count and fps must be at least 1")
    if not 0 <= plan.poster_frame < plan.frame_count:
        raise RenderError(f"poster_frame {plan.poster_frame} is outside 0..{plan.frame_count - 1}")
    if len(plan.bg_color) != 3 or not all(0 <= int(c) <= 255 for c in plan.bg_color):
        raise RenderError(f"bg_color must be three values 0..255, got {plan.bg_color!r}")


def available_cores() -> int:
    """The CPU cores this process may use: its affinity mask, capped by a cgroup (v2) CPU quota
    (a container's ``--cpus``), which x264's own count ignores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        if quota != "max" and int(period) > 0:
            cores = min(cores, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def h264_encoder() -> str:
    """The H.264 encoder of this process: ``DXGL_H264_ENCODER`` when it names one, else libx264."""
    chosen = os.environ.get(H264_ENCODER_ENV, "").strip() or LIBX264
    if chosen not in H264_ENCODERS:
        raise RenderError(f"{H264_ENCODER_ENV} must be one of {', '.join(H264_ENCODERS)}, got {chosen!r}")
    return chosen


def threads_for_cores(cores: int) -> int:
    """x264's own rule (1.5 threads per core: its frame threads wait on each other), applied to the
    cores this process may really use rather than the machine's count x264 would read."""
    return max(1, (3 * max(1, cores)) // 2)


def x264_threads() -> int:
    """x264 threads per encoder: ``DXGL_X264_THREADS`` (set by the worker from its cores over its
    concurrency), else :func:`threads_for_cores` of every core this process may use."""
    raw = os.environ.get(X264_THREADS_ENV, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return threads_for_cores(available_cores())


def _encoder_args(preset: str, crf: int) -> list[str]:
    """``-c:v ...`` for one H.264 output at x264 ``preset`` / ``crf`` (NVENC: its nearest equivalents:
    constant quality ``crf`` + 1, since NVENC spends a little more for the same look)."""
    if h264_encoder() == NVENC:
        nvenc_preset = "p4" if preset == "fast" else "p2"
        return ["-c:v", NVENC, "-preset", nvenc_preset, "-tune", "hq", "-rc", "vbr", "-cq", str(crf + 1), "-b:v", "0"]
    return ["-c:v", LIBX264, "-preset", preset, "-crf", str(crf), "-threads", str(x264_threads())]


def probe_nvenc(timeout_s: float = _PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """One tiny NVENC encode (8 frames of 256x256 to nowhere): (works, ffmpeg's last words when not).
    Run once at worker start; a GPU without NVENC (H100, H200) or no GPU at all answers False."""
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "color=c=gray:s=256x256:r=30:d=1",
        "-frames:v",
        "8",
        "-c:v",
        NVENC,
        "-pix_fmt",
        "yuv420p",
        "-f",
        "null",
        "-",
    ]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    if done.returncode == 0:
        return True, ""
    return False, done.stderr.decode("utf-8", "replace").strip()[:300] or f"exit status {done.returncode}"


def _h264_output(label: str, size: tuple[int, int], preset: str, crf: int, path: Path) -> tuple[str, list[str]]:
    """Filter chain (from a split branch ``label``) and output arguments of one H.264 file."""
    w, h = size
    chain = f"[{label}]scale={w}:{h}:flags=lanczos:{_BT709_FILTER},format=yuv420p,{_BT709_PARAMS}[{label}o]"
    args = [
        "-map",
        f"[{label}o]",
        *_encoder_args(preset, crf),
        "-pix_fmt",
        "yuv420p",
        *_BT709_TAGS,
        "-movflags",
        "+faststart",
        str(path),
    ]
    return chain, args


def _raw_input(width: int, height: int, fps: int, pix_fmt: str) -> list[str]:
    """The start of every ffmpeg command here: quiet, overwrite, raw frames of ``pix_fmt`` on stdin."""
    return [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        pix_fmt,
        "-video_size",
        f"{width}x{height}",
        "-framerate",
        str(fps),
        "-i",
        "pipe:0",
    ]


def h264_command(plan: EncodePlan, outputs: list[tuple[Path, tuple[int, int], tuple[str, int]]]) -> list[str]:
    """One ffmpeg reading RGB24 frames on stdin and writing every (path, size, (preset, crf)) H.264 file."""
    labels = [f"s{i}" for i in range(len(outputs))]
    chains, out_args = [], []
    for label, (path, size, (preset, crf)) in zip(labels, outputs):
        chain, args = _h264_output(label, size, preset, crf, path)
        chains.append(chain)
        out_args += args
    graph = f"[0:v]split={len(labels)}" + "".join(f"[{label}]" for label in labels) + ";" + ";".join(chains)
    return [
        *_raw_input(plan.width, plan.height, plan.fps, "rgb24"),
        "-filter_complex",
        graph,
        *out_args,
    ]


def prores_command(plan: EncodePlan, path: Path, encoder: str = PRORES_ENCODER) -> list[str]:
    """One ffmpeg reading straight RGBA frames on stdin and writing ProRes 4444 with alpha."""
    return [
        *_raw_input(plan.width, plan.height, plan.fps, "rgba"),
        "-vf",
        f"scale={_BT709_FILTER},format=yuva444p10le,{_BT709_PARAMS}",
        "-c:v",
        encoder,
        "-profile:v",
        _PRORES_4444_PROFILE[encoder],
        "-vendor",
        "apl0",
        "-pix_fmt",
        "yuva444p10le",
        *_BT709_TAGS,
        str(path),
    ]


class _Ffmpeg:
    """One ffmpeg process fed on stdin; its stderr goes to a temp file (never a pipe that could fill)."""

    def __init__(self, command: list[str]) -> None:
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close/abort)
        try:
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr)
        except OSError as exc:
            self._stderr.close()
            raise RenderError(f"could not start ffmpeg: {exc}") from exc

    def feed(self, frame: NDArray[np.uint8]) -> None:
        """Write one C-contiguous (H, W, 3) or (H, W, 4) uint8 frame's bytes to ffmpeg's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(frame.data.cast("B"))

    def finish(self) -> int:
        """Close stdin and wait; returns the exit status."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass  # a dead ffmpeg: its exit status tells
        return self.proc.wait()

    def kill(self) -> None:
        """Kill ffmpeg if it still runs, and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish()

    def stderr_tail(self, limit: int = 1500) -> str:
        """The last ``limit`` characters ffmpeg wrote to stderr."""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace").strip()
        return text[-limit:] if text else "(no message)"

    def close(self) -> None:
        """Drop the stderr file."""
        self._stderr.close()


class JobEncoder:
    """Encodes one job; use as a context manager. An exception inside the ``with`` block aborts
    (ffmpeg killed, partial files removed); leaving it normally without ``close()`` closes.

    ``write`` takes exactly ``plan.frame_count`` frames; ``close`` refuses fewer. Any failure in
    ``write`` or ``close`` aborts first, then raises RenderError (with ffmpeg's message when it has one).
    """

    def __init__(self, plan: EncodePlan, on_poster: Callable[[], None] | None = None) -> None:
        validate_plan(plan)
        self.plan = plan
        self._on_poster = on_poster
        self._pro = plan.codec is Codec.PRORES_4444  # transparent .mov: no background in the main video
        out = Path(plan.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.outputs = RenderOutputs.in_folder(out, plan.quality)
        r, g, b = plan.bg_color
        self._compositor = Compositor(
            plan.width,
            plan.height,
            (int(r), int(g), int(b)),
            plan.bg_image,
            plan.bg_align,
            plan.fg_image,
            plan.fg_align,
            plan.watermark,
        )
        self._written = 0
        self._finished = False  # closed or aborted
        self._write_error: BaseException | None = None
        self._broken: _Ffmpeg | None = None  # the ffmpeg whose stdin failed
        self._queue: queue.Queue[tuple[NDArray[np.uint8], ...] | None] = queue.Queue(QUEUE_FRAMES)
        self._procs: list[_Ffmpeg] = []
        try:
            self._start_processes()
        except BaseException:
            self.abort()
            raise
        self._writer = threading.Thread(target=self._writer_loop, name="dxgl-encode-writer", daemon=True)
        self._writer.start()

    def _start_processes(self) -> None:
        plan, outs = self.plan, self.outputs
        h264 = [
            (outs.web, web_size(plan.width, plan.height, plan.quality), WEB_H264),
            (outs.thumb, thumb_size(plan.width, plan.height), THUMB_H264),
        ]
        if self._pro:
            self._procs.append(_Ffmpeg(prores_command(plan, outs.video)))
        else:
            h264.insert(0, (outs.video, (plan.width, plan.height), MAIN_H264[Quality(plan.quality)]))
        self._procs.append(_Ffmpeg(h264_command(plan, h264)))

    # -- frames in -------------------------------------------------------------------------------

    def __enter__(self) -> JobEncoder:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._finished:
            self.close()

    def write(self, rgba: NDArray[np.uint8]) -> None:
        """Add the next frame: (H, W, 4) uint8 straight RGBA, rows top to bottom. The array is not
        kept (the caller may reuse its buffer)."""
        if self._finished:
            raise RenderError("encoder is already closed")
        if self._written >= self.plan.frame_count:
            self._fail(f"got more than the planned {self.plan.frame_count} frames")
        try:
            if self._pro:
                alpha_frame = self._compositor.keep_alpha(rgba)  # a copy: safe to queue
                rgb = self._compositor.flatten(alpha_frame)
                item: tuple[NDArray[np.uint8], ...] = (alpha_frame, rgb)
            else:
                rgb = self._compositor.over_background(rgba)
                item = (rgb,)
        except RenderError as exc:
            self._fail(str(exc))
        if self._written == self.plan.poster_frame:
            self._write_posters(rgb)
        self._put(item)
        self._written += 1

    def _write_posters(self, rgb: NDArray[np.uint8]) -> None:
        """rgb: (H, W, 3) uint8. Writes both PNGs, then tells the caller."""
        try:
            poster = Image.fromarray(rgb)
            poster.save(self.outputs.poster_full)
            small = poster.resize(poster_small_size(*poster.size), Image.Resampling.LANCZOS)
            small.save(self.outputs.poster_small)
        except OSError as exc:
            self._fail(f"could not write the poster: {exc}")
        if self._on_poster is not None:
            self._on_poster()

    def _put(self, item: tuple[NDArray[np.uint8], ...]) -> None:
        """Queue one frame per ffmpeg process (each (H, W, C) uint8) for the writer thread."""
        while True:
            self._raise_if_writer_failed()
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _writer_loop(self) -> None:
        """Feeds queued frames to ffmpeg; after a failure it keeps draining so ``write`` never blocks."""
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._write_error is not None:
                continue
            for proc, frame in zip(self._procs, item):
                try:
                    proc.feed(frame)
                except BaseException as exc:  # BrokenPipeError when ffmpeg died: reported by write/close
                    self._broken = proc
                    self._write_error = exc
                    break

    def _raise_if_writer_failed(self) -> None:
        if self._write_error is not None:
            self._fail("ffmpeg stopped taking frames", ffmpeg_exiting=True)

    # -- the end -----------------------------------------------------------------------------------

    def close(self) -> RenderOutputs:
        """Finish every ffmpeg and return the files. Raises RenderError (after aborting) on failure."""
        if self._finished:
            raise RenderError("encoder is already closed")
        if self._written != self.plan.frame_count:
            self._fail(f"got {self._written} of the planned {self.plan.frame_count} frames")
        self._queue.put(None)
        self._writer.join()
        self._raise_if_writer_failed()
        for proc in self._procs:
            if proc.finish() != 0:
                self._fail("ffmpeg failed")
        missing = [p.name for p in self._output_paths() if not p.is_file() or p.stat().st_size == 0]
        if missing:
            self._fail(f"ffmpeg wrote no {', '.join(missing)}")
        self._finished = True
        for proc in self._procs:
            proc.close()
        return self.outputs

    def abort(self) -> None:
        """Kill ffmpeg and remove every output file of this job. Safe to call more than once."""
        if self._finished:
            return
        self._finished = True
        for proc in self._procs:
            proc.kill()
        if hasattr(self, "_writer"):
            self._drain_queue()
            self._queue.put(None)
            self._writer.join()
        for proc in self._procs:
            proc.close()
        for path in self._output_paths():
            if path.is_file() or path.is_symlink():  # never a folder someone put in the way
                path.unlink()

    def _drain_queue(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _output_paths(self) -> list[Path]:
        return self.outputs.files()

    def _fail(self, reason: str, ffmpeg_exiting: bool = False) -> None:
        """Abort, then raise RenderError with ffmpeg's own words when it said anything.

        ``ffmpeg_exiting``: a pipe broke, so an ffmpeg is on its way out; give it a moment to finish
        writing its message and exit status before it is killed."""
        if ffmpeg_exiting and self._broken is not None:
            try:
                self._broken.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        messages = [
            f"ffmpeg exit status {p.proc.returncode}: {p.stderr_tail()}"
            for p in self._procs
            if p.proc.poll() not in (None, 0)
        ]
        self.abort()
        detail = "; ".join(messages)
        raise RenderError(f"video encoding failed: {reason}" + (f": {detail}" if detail else ""))
