"""Run an untrusted parse in a spawned child with an address-space and a time limit.

The API process never parses a model itself: a parser that runs away (memory or time) is killed and
reported as DxglError(ErrorCode.INVALID_MODEL), never as a crash of the server.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

# Numeric libraries size thread pools and arenas by CPU count; one thread keeps the address space
# small and predictable under RLIMIT_AS.
CHILD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# A generous cap on any one file the child writes (RLIMIT_FSIZE): above the ZIP expansion limit.
CHILD_MAX_FILE_BYTES = 1024 * 1024 * 1024


def _child_main(conn: Connection, func: Callable[..., Any], args: tuple, memory_bytes: int, time_s: float) -> None:
    os.environ.update(CHILD_ENV)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    cpu = int(time_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (CHILD_MAX_FILE_BYTES, CHILD_MAX_FILE_BYTES))
    try:
        outcome: tuple = ("ok", func(*args))
    except DxglError as exc:
        outcome = ("error", exc.code, exc.message)
    except MemoryError:
        outcome = ("error", "invalid_model", "the model needs more memory to read than the limit allows")
    except RecursionError:
        outcome = ("error", "invalid_model", "the model is nested too deeply to read")
    except Exception as exc:  # any other parser failure is a damaged file, reported without a trace
        outcome = ("error", "invalid_model", f"the model could not be read ({type(exc).__name__}: {str(exc)[:200]})")
    try:
        conn.send(outcome)
    except Exception:
        conn.send(("error", "invalid_model", "the model could not be read"))
    conn.close()


def run_limited(func: Callable[..., Any], args: tuple, *, memory_bytes: int, time_s: float) -> Any:
    """Call ``func(*args)`` in a spawned child and return its result.

    ``func`` must be a module-level function and its arguments and result picklable. A DxglError
    raised in the child is raised here; a child killed by a limit or crashing raises invalid_model.
    """
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child_main, args=(sender, func, args, memory_bytes, time_s), daemon=True)
    process.start()
    sender.close()
    answered = False
    try:
        if not receiver.poll(time_s):
            raise DxglError(ErrorCode.INVALID_MODEL, f"reading the model took longer than {time_s:g} s; it was stopped")
        try:
            outcome = receiver.recv()
            answered = True
        except (EOFError, OSError):
            raise DxglError(
                ErrorCode.INVALID_MODEL, "reading the model exceeded the memory or time limit; it was stopped"
            ) from None
    finally:
        receiver.close()
        if answered:
            process.join(timeout=2)  # it is only closing its pipe and exiting
        if process.is_alive():
            process.kill()
        process.join()
    if outcome[0] == "ok":
        return outcome[1]
    raise DxglError(outcome[1], outcome[2])
