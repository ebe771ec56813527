"""Child-process targets for test_child.py (module-level: spawn pickles them by name). Each is called
as ``target(model_path, work, emit)`` like the real render children."""

from __future__ import annotations

import os
import time
from typing import Any

from dxgl.render.types import RenderError


def echo(model_path: str, work: Any, emit: Any) -> Any:
    """Sends each (job, name, payload) of ``work`` as an event, then returns ``work``'s length."""
    for event in work:
        emit(event)
    return len(work)


def fail(model_path: str, work: str, emit: Any) -> None:
    if work == "render":
        raise RenderError("the model has no triangles")
    if work == "memory":
        raise MemoryError
    raise ValueError("a bug")


def die(model_path: str, work: Any, emit: Any) -> None:
    os._exit(3)


def emit_then_hang(model_path: str, work: Any, emit: Any) -> None:
    emit((0, "started", {}))
    while True:
        time.sleep(0.05)


def grow(model_path: str, work: Any, emit: Any) -> None:
    """Touches memory 8 MiB at a time, up to ``work`` MiB, then hangs: the parent's watch must stop it."""
    held = []
    while len(held) * 8 < work:
        held.append(b"\x01" * (8 * 1024 * 1024))  # written, so resident
        time.sleep(0.01)
    while True:
        time.sleep(0.05)


def spawn_grandchild_and_hang(model_path: str, work: Any, emit: Any) -> None:
    """Starts a process of its own (as the video child starts ffmpeg) that touches ``work`` MiB,
    reports its pid, and hangs."""
    import subprocess
    import sys

    code = f"import time; held = b'x' * ({work} * 1024 * 1024); time.sleep(600)"
    grandchild = subprocess.Popen([sys.executable, "-c", code])
    emit((0, "grandchild", {"pid": grandchild.pid}))
    while True:
        time.sleep(0.05)
