"""Render work in a spawned child process: the render library's side of ``dxgl.proc``.

The video child (``video_child``) and the dataset child (``dataset.child``) both run through
:func:`run_render_child`, which adds what is the render library's own to ``dxgl.proc``'s mechanics:

* the child's events are ``(job_index, name, payload)`` triples; the caller's ``on_event`` gets
  ``(name, {**payload, "job": job_index})`` on its own thread;
* every failure becomes a :class:`RenderError` whose message is meant for the user: a timeout, a
  child over its resident-memory limit, a child that died (crash), or an exception in the child
  (:func:`describe_failure`, which runs in the child);
* a failure caused by the model file itself is a :class:`ModelFileError` (a RenderError): the child
  raised while the file was being loaded into a scene or the camera placed around it (the modules of
  ``FILE_FAULT_MODULES``), not a timeout, a killed or crashed child, memory, GL or the encoder
  (:func:`is_file_fault`). The service marks a model broken on it (its system preview);
* the child's resident memory (with its ffmpeg encoders) is watched against a limit
  (:func:`default_memory_limit_bytes` unless the caller gives one); no address-space limit, because
  llvmpipe and NVIDIA's driver reserve far more address space than they use.

This module imports no vispy: the caller's process never holds a GL context.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from dxgl.proc import ChildDied, ChildFailed, ChildOverMemory, ChildTimedOut, Emit, run_in_child
from dxgl.render.types import RenderError

log = logging.getLogger("dxgl.render")

T = TypeVar("T")

PROCESS_NAME = "dxgl-render"
EXIT_GRACE_S = 5.0  # after its outcome, how long the child may take to exit before it is killed

# The resident-memory limit of a render child (docs/rendering.md, "Memory"). Measured: a 4K pro job
# (DamagedHelmet, 180 frames 3840x2160, ProRes 4444 + web + thumb, llvmpipe) peaks at 2.01 GB for the
# child and its ffmpeg encoders together (the child alone 0.99 GB). A model at the ingest texture
# budget (256 megapixels with mip levels: at most 192 megapixels of base levels, 0.77 GB as RGBA8)
# holds its textures about twice (the scene's arrays and the GL driver's copy) plus one image being
# decoded: about 1.75 GB more. 2.01 + 1.75 GB, rounded up with a margin: 5 GiB.
SIZED_MEMORY_LIMIT_BYTES = 5 * 1024**3
MACHINE_MEMORY_SHARE = 0.75  # never more than this share of the machine's (or cgroup's) memory

# Where an exception means the model file itself is at fault: the scene loader (reading, validating
# and normalising the file's geometry and materials) and the camera placement around that geometry.
# Pure functions of the file: a timeout, memory, a killed child, GL and ffmpeg never fail there.
FILE_FAULT_MODULES = frozenset({"dxgl.render.scene", "dxgl.render.camera"})


class ModelFileError(RenderError):
    """A render failure caused by the model file (it cannot be loaded or drawn), as opposed to the
    worker or its machine (timeouts, memory, a killed child, GL context or encoder failures)."""


# The caller's view of events: (name, payload); payloads of render_variants carry "job".
EventCallback = Callable[[str, dict[str, Any]], None]
# The child's view: send_event(job_index, name, payload).
SendEvent = Callable[[int, str, dict[str, Any]], None]


def job_events(emit: Emit) -> SendEvent:
    """In the child: the ``send_event(job_index, name, payload)`` that goes through ``emit``."""

    def send_event(index: int, name: str, payload: dict[str, Any]) -> None:
        emit((index, name, payload))

    return send_event


def start_child_logging() -> None:
    """In the child: log to stderr with the process id (the parent's logging is not inherited)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s dxgl.render[%(process)d] %(message)s")


def machine_memory_bytes() -> int | None:
    """Physical memory, or the cgroup (v2) memory limit when lower; None when neither is known."""
    known: list[int] = []
    try:
        known.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            text = f.read().strip()
        if text.isdigit():
            known.append(int(text))
    except OSError:
        pass
    return min(known) if known else None


def default_memory_limit_bytes() -> int:
    """The render child's resident-memory limit when none is configured: the size measured for a
    4K pro job with a model at the texture budget (``SIZED_MEMORY_LIMIT_BYTES``), but never more
    than ``MACHINE_MEMORY_SHARE`` of the machine's memory."""
    machine = machine_memory_bytes()
    if machine is None:
        return SIZED_MEMORY_LIMIT_BYTES
    return min(SIZED_MEMORY_LIMIT_BYTES, int(machine * MACHINE_MEMORY_SHARE))


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


def is_file_fault(exc: BaseException) -> bool:
    """In the child: was ``exc`` raised while the model file was loaded into a scene or the camera
    placed around it (a frame of ``FILE_FAULT_MODULES`` on its traceback)? Running out of memory
    never counts: that is the machine's limit, not the file's fault."""
    if isinstance(exc, MemoryError):
        return False
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") in FILE_FAULT_MODULES:
            return True
        tb = tb.tb_next
    return False


def describe_render_failure(what: str, smaller: str, exc: BaseException) -> tuple[str, bool]:
    """In the child: (the user's message for ``exc``, whether the model file is at fault)."""
    return describe_failure(what, smaller, exc), is_file_fault(exc)


def describe_failure(what: str, smaller: str, exc: BaseException) -> str:
    """In the child: the user's message for ``exc``. ``what`` names the job in messages
    ("render"), ``smaller`` the advice when memory runs out ("a smaller quality tier")."""
    if isinstance(exc, RenderError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return f"The {what} ran out of memory: try {smaller} or a lighter model"
    # Anything else is our bug: tell the user plainly, log the details.
    log.error("%s failed:\n%s", what, traceback.format_exc())
    return f"The {what} failed unexpectedly ({type(exc).__name__}: {exc})"


def run_render_child(
    target: Callable[..., T],
    model_path: Path,
    work: Any,
    *,
    on_event: EventCallback | None,
    timeout_s: float | None,
    what: str,
    smaller: str,
    memory_limit_bytes: int | None = None,
) -> T:
    """Run ``target(str(model_path), work, emit)`` in a spawned child and return its result.

    ``target`` is a module-level function of a module that imports no GL at import time. Raises
    RenderError for a missing model file, past ``timeout_s`` (the child is killed), when the child
    and its encoders use more resident memory than ``memory_limit_bytes`` (None or 0:
    :func:`default_memory_limit_bytes`; they are killed), when the child dies, and with the child's
    own message when the work fails there (a :class:`ModelFileError` when the file is at fault)."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise RenderError(f"The model file {model_path.name} does not exist")
    forward: Callable[[Any], None] | None = None
    if on_event is not None:
        callback = on_event

        def forward(event: Any) -> None:
            index, name, payload = event
            callback(name, {**payload, "job": index})

    try:
        return run_in_child(
            target,
            (str(model_path), work),
            name=PROCESS_NAME,
            timeout_s=timeout_s,
            on_event=forward,
            describe_error=partial(describe_render_failure, what, smaller),
            exit_grace_s=EXIT_GRACE_S,
            resident_limit_bytes=memory_limit_bytes or default_memory_limit_bytes(),
        )
    except ChildTimedOut as exc:
        raise RenderError(f"The render took longer than {exc.timeout_s:g} s and was stopped") from None
    except ChildOverMemory as exc:
        raise RenderError(
            f"The {what} needed more memory than the limit of {_size(exc.limit_bytes)} and was stopped: "
            f"try {smaller} or a lighter model (fewer or smaller textures)"
        ) from None
    except ChildDied as exc:
        raise RenderError(
            f"The render process stopped unexpectedly (exit code {exc.exitcode}); the model may be too large or damaged"
        ) from None
    except ChildFailed as exc:
        payload = exc.payload
        if isinstance(payload, tuple) and len(payload) == 2:
            message, file_fault = payload
            raise (ModelFileError if file_fault else RenderError)(str(message)) from None
        raise RenderError(str(payload)) from None
