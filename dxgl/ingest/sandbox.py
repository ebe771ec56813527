"""Run an untrusted parse in a spawned child with an address-space and a time limit.

The API process never parses a model itself: a parser that runs away (memory or time) is killed and
reported as DxglError(ErrorCode.INVALID_MODEL), never as a crash of the server. The child-process
mechanics (spawn, limits, kill, and a lower CPU priority than the API, with ``basisu`` inheriting it)
are ``dxgl.proc``'s; the policy and the messages are here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.proc import (
    ONE_THREAD_ENV,
    ChildDied,
    ChildFailed,
    ChildTimedOut,
    Emit,
    Limits,
    UnsendableResult,
    run_in_child,
)

# A generous cap on any one file the child writes (RLIMIT_FSIZE): above the ZIP expansion limit.
CHILD_MAX_FILE_BYTES = 1024 * 1024 * 1024
_EXIT_GRACE_S = 2.0  # after answering, the child is only closing its pipe and exiting


def _parse(func: Callable[..., Any], args: tuple[Any, ...], emit: Emit) -> Any:
    """The child's work: the parser sends no events."""
    return func(*args)


def _describe(exc: BaseException) -> tuple[str, str]:
    """In the child: a parser's exception -> (error code, message). Reported without a trace."""
    if isinstance(exc, DxglError):
        return exc.code, exc.message
    if isinstance(exc, MemoryError):
        return ErrorCode.INVALID_MODEL, "the model needs more memory to read than the limit allows"
    if isinstance(exc, RecursionError):
        return ErrorCode.INVALID_MODEL, "the model is nested too deeply to read"
    if isinstance(exc, UnsendableResult):
        return ErrorCode.INVALID_MODEL, "the model could not be read"
    # Any other parser failure is a damaged file.
    return ErrorCode.INVALID_MODEL, f"the model could not be read ({type(exc).__name__}: {str(exc)[:200]})"


def run_limited(func: Callable[..., Any], args: tuple[Any, ...], *, memory_bytes: int, time_s: float) -> Any:
    """Call ``func(*args)`` in a spawned child and return its result.

    ``func`` must be a module-level function and its arguments and result picklable. A DxglError
    raised in the child is raised here; a child killed by a limit or crashing raises invalid_model.
    """
    limits = Limits(memory_bytes=memory_bytes, cpu_s=time_s, file_bytes=CHILD_MAX_FILE_BYTES, env=ONE_THREAD_ENV)
    try:
        return run_in_child(
            _parse,
            (func, args),
            name="dxgl-ingest",
            timeout_s=time_s,
            limits=limits,
            describe_error=_describe,
            exit_grace_s=_EXIT_GRACE_S,
        )
    except ChildTimedOut:
        raise DxglError(
            ErrorCode.INVALID_MODEL, f"reading the model took longer than {time_s:g} s; it was stopped"
        ) from None
    except ChildDied:
        raise DxglError(
            ErrorCode.INVALID_MODEL, "reading the model exceeded the memory or time limit; it was stopped"
        ) from None
    except ChildFailed as exc:
        code, message = exc.payload
        raise DxglError(code, message) from None
