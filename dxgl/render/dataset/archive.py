"""Streaming the dataset to disk: per-view encoding and ZIP writing on a writer thread.

The GL thread hands each view's raw arrays to ``DatasetArchive.add_view`` (a bounded queue: at most
``QUEUE_VIEWS`` views wait, so memory stays flat for any tier); the writer thread encodes the PNGs,
appends them to the ZIP (stored: PNGs are already compressed), fills the contact sheet and writes the
posters after view 0. ``finish`` adds overview.webp, points3d.ply and the transforms files, then moves
the archive into place; until then it is ``dataset.zip.part``.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from dxgl.contract import POSTER_SMALL_LONG_SIDE
from dxgl.render.dataset.files import (
    ContactSheet,
    depth_levels,
    mask_grey,
    metric_depth,
    normal_rgb,
    png_bytes,
    rgb_on_white,
    split_indices,
    transforms,
    view_name,
)
from dxgl.render.dataset.points import ply_bytes
from dxgl.render.dataset.spec import DatasetOutputs
from dxgl.render.dataset.views import DatasetCameras
from dxgl.render.types import RenderError

QUEUE_VIEWS = 3
FRAME_EVENTS = 20  # how many ("frames", ...) progress events a dataset sends at most

EventCallback = Callable[[str, dict[str, Any]], None]
_View = tuple[int, NDArray[np.uint8], NDArray[np.float32]]


def _write_png_atomically(path: Path, array: NDArray[np.uint8]) -> None:
    """(H, W, 3) uint8 RGB -> a PNG at ``path``, written beside it first and moved into place."""
    tmp = path.with_name(path.name + ".part")
    Image.fromarray(array).save(tmp, format="PNG")
    os.replace(tmp, path)


class DatasetArchive:
    """Writes out_dir/dataset.zip, poster.png and poster_small.png. ``on_event(name, payload)`` is
    called from the writer thread (the child's message queue is thread-safe)."""

    def __init__(self, out_dir: Path, cams: DatasetCameras, on_event: EventCallback) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.cams = cams
        self.count = len(cams.c2w)
        self.on_event = on_event
        self.outputs = DatasetOutputs.in_folder(self.out_dir)
        self._part = self.outputs.archive.with_name(self.outputs.archive.name + ".part")
        self._zip = zipfile.ZipFile(self._part, "w", allowZip64=True)
        self._sheet = ContactSheet(self.count, cams.size)
        self._queue: queue.Queue[_View | None] = queue.Queue(maxsize=QUEUE_VIEWS)  # None: stop
        self._error: BaseException | None = None
        self._written = 0
        self._thread = threading.Thread(target=self._run, name="dxgl-dataset-writer", daemon=True)
        self._thread.start()

    # -- GL thread side ---------------------------------------------------------------------------
    def add_view(self, index: int, rgba: NDArray[np.uint8], geometry: NDArray[np.float32]) -> None:
        """Queue view ``index``: ``rgba`` (S, S, 4) uint8 straight-alpha render, ``geometry`` (S, S, 4)
        float32 (normal xyz, z-depth; 0 where no surface). Both must be the caller's own copies."""
        self._raise_if_failed()
        while True:
            try:
                self._queue.put((index, rgba, geometry), timeout=0.5)
                return
            except queue.Full:
                self._raise_if_failed()

    def finish(self, points: NDArray[np.void]) -> DatasetOutputs:
        """Wait for every view, add the dataset-wide files, close and move the archive into place.
        ``points``: the (N,) structured array of ``points.sample_surface``."""
        self._queue.put(None)
        self._thread.join()
        self._raise_if_failed()
        if self._written != self.count:
            raise RenderError(f"the dataset writer stored {self._written} of {self.count} views")
        self.on_event("encoding", {})
        self._zip.writestr("overview.webp", self._sheet.webp_bytes(), compress_type=zipfile.ZIP_STORED)
        self._zip.writestr("points3d.ply", ply_bytes(points), compress_type=zipfile.ZIP_DEFLATED)
        train, test = split_indices(self.count)
        for name, content in (
            ("transforms.json", transforms(self.cams)),
            ("transforms_train.json", transforms(self.cams, train, with_extension=False)),
            ("transforms_test.json", transforms(self.cams, test, with_extension=False)),
        ):
            self._zip.writestr(name, json.dumps(content, indent=2), compress_type=zipfile.ZIP_DEFLATED)
        self._zip.close()
        os.replace(self._part, self.outputs.archive)
        return self.outputs

    def abort(self) -> None:
        """Stop the writer and remove the partial archive (posters already written stay)."""
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._error = self._error or RenderError("aborted")
        self._thread.join(timeout=10.0)
        try:
            self._zip.close()
        except Exception:  # the archive is being thrown away
            pass
        self._part.unlink(missing_ok=True)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    # -- writer thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        step = max(1, self.count // FRAME_EVENTS)
        try:
            while True:
                item = self._queue.get()
                if item is None or self._error is not None:
                    return
                self._write_view(*item)
                self._written += 1
                if self._written % step == 0 or self._written == self.count:
                    self.on_event("frames", {"done": self._written, "total": self.count})
        except BaseException as exc:  # handed to the GL thread, which raises it
            self._error = exc

    def _write_view(self, index: int, rgba: NDArray[np.uint8], geometry: NDArray[np.float32]) -> None:
        """Encode and store one view (arrays as in ``add_view``); view 0 also writes the posters."""
        cams = self.cams
        depth, mask = geometry[..., 3], geometry[..., 3] > 0.0
        rgb = rgb_on_white(rgba, mask)
        depth8 = depth_levels(depth, mask, cams.depth_near, cams.depth_far, 255)
        normals = normal_rgb(geometry[..., :3], mask)
        mask8 = mask_grey(mask)
        name = view_name(index)
        for folder, array in (
            ("images", rgb),
            ("depth", depth8),
            ("depth_16bit", depth_levels(depth, mask, cams.depth_near, cams.depth_far, 65535)),
            ("depth_mm", metric_depth(depth, mask)),
            ("normals", normals),
            ("masks", mask8),
        ):
            self._zip.writestr(f"{folder}/{name}.png", png_bytes(array), compress_type=zipfile.ZIP_STORED)
        self._sheet.add(index, rgb, depth8, normals, mask8)
        if index == 0:
            _write_png_atomically(self.outputs.poster_full, rgb)
            side = min(POSTER_SMALL_LONG_SIDE, cams.size)  # square: never enlarged
            small = np.asarray(Image.fromarray(rgb).resize((side, side), Image.Resampling.LANCZOS))
            _write_png_atomically(self.outputs.poster_small, small)
            self.on_event("poster", {"path": str(self.outputs.poster_full)})
