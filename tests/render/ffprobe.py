"""Reads back videos in tests with imageio-ffmpeg's ffmpeg binary (there is no ffprobe beside it).

``probe(path)`` parses the first video stream of ``ffmpeg -i FILE`` and counts frames by decoding;
``decode_frames(path)`` returns the decoded pixels; ``top_level_atoms(path)`` lists MP4/MOV boxes.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (?P<codec>\w+)[^,]*(?:\([^)]*\))?, (?P<rest>.*)")
_PIX_FMT = re.compile(r"^(?P<pix>\w+)(?:\((?P<props>[^)]*)\))?")
_SIZE = re.compile(r"\b(?P<w>\d{2,5})x(?P<h>\d{2,5})\b")
_FPS = re.compile(r"(?P<fps>[\d.]+) fps")
_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d+):(?P<s>[\d.]+)")


@dataclass(frozen=True)
class VideoInfo:
    codec: str  # "h264", "prores"
    pix_fmt: str  # "yuv420p", "yuva444p12le"
    width: int
    height: int
    fps: float
    duration: float  # seconds, from the container
    frame_count: int  # decoded frames
    color_range: str | None  # "tv" / "pc"
    colorspace: str | None  # matrix, e.g. "bt709"
    color_primaries: str | None
    color_trc: str | None


def _header(path: Path) -> str:
    result = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return result.stderr


def _colour_props(props: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """ffmpeg prints "(tv, bt709, progressive)" when matrix, primaries and transfer agree, and
    "(tv, bt709/bt709/bt709, ...)" style (matrix/primaries/transfer) when they differ."""
    if not props:
        return None, None, None, None
    parts = [p.strip() for p in props.split(",")]
    color_range = parts[0] if parts and parts[0] in ("tv", "pc") else None
    rest = parts[1:] if color_range else parts
    for part in rest:
        if part in ("progressive", "top first", "bottom first", "top coded first (swapped)"):
            continue
        names = part.split("/")
        if len(names) == 3:
            return color_range, names[0], names[1], names[2]
        return color_range, part, part, part
    return color_range, None, None, None


def probe(path: Path) -> VideoInfo:
    """Codec, pixel format, size, fps, duration, decoded frame count and colour tags of ``path``."""
    header = _header(path)
    stream = _STREAM.search(header)
    if stream is None:
        raise AssertionError(f"no video stream in {path}:\n{header}")
    rest = stream.group("rest")
    pix = _PIX_FMT.match(rest)
    size = _SIZE.search(rest)
    fps = _FPS.search(rest)
    duration = _DURATION.search(header)
    assert pix and size and fps and duration, header
    color_range, matrix, primaries, trc = _colour_props(pix.group("props"))
    h, m, s = duration.group("h", "m", "s")
    width, height = int(size.group("w")), int(size.group("h"))
    frames = decode_frames(path, "gray")
    return VideoInfo(
        codec=stream.group("codec"),
        pix_fmt=pix.group("pix"),
        width=width,
        height=height,
        fps=float(fps.group("fps")),
        duration=int(h) * 3600 + int(m) * 60 + float(s),
        frame_count=len(frames),
        color_range=color_range,
        colorspace=matrix,
        color_primaries=primaries,
        color_trc=trc,
    )


def decode_frames(path: Path, pix_fmt: str = "rgb24", matrix: str = "bt709") -> np.ndarray:
    """Every frame as (N, H, W, C) uint8, C = 3 for rgb24, 4 for rgba, 1 for gray.

    YUV is converted with the given ``matrix`` on purpose (not the file's tags), so a test can tell
    an encoder that converted as BT.601 from one that converted as BT.709."""
    header = _header(path)
    size = _SIZE.search(_STREAM.search(header).group("rest"))  # type: ignore[union-attr]
    width, height = int(size.group("w")), int(size.group("h"))  # type: ignore[union-attr]
    channels = {"rgb24": 3, "rgba": 4, "gray": 1}[pix_fmt]
    command = [
        FFMPEG,
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-vf",
        f"scale=in_color_matrix={matrix}:in_range=tv:flags=accurate_rnd+full_chroma_int,format={pix_fmt}",
        "-f",
        "rawvideo",
        "-pix_fmt",
        pix_fmt,
        "pipe:1",
    ]
    result = subprocess.run(command, capture_output=True, check=True)
    frame_bytes = width * height * channels
    assert len(result.stdout) % frame_bytes == 0, "decoded a partial frame"
    return np.frombuffer(result.stdout, np.uint8).reshape(-1, height, width, channels)


def top_level_atoms(path: Path) -> list[str]:
    """Names of the top-level boxes of an MP4/MOV file, in file order ("ftyp", "moov", "mdat"...)."""
    names = []
    data = Path(path).read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        name = data[offset + 4 : offset + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        elif size == 0:
            size = len(data) - offset
        names.append(name)
        if size < 8:
            break
        offset += size
    return names
