"""Running one function in a spawned child process: the mechanics every caller shares, once.

The render library (GL in its own process) and model ingest (untrusted parsers under resource
limits) both do their work in a child process. What they have in common lives here:

* **spawn, never fork**: a fork after a GL context exists hangs, and a fork copies the parent's
  threads' locks in whatever state they are;
* **a deadline** (``timeout_s``): past it the child is killed;
* **no child is ever left running**: every way out of :func:`run_in_child` (result, error, timeout,
  a crash, an exception in the caller's ``on_event``, an interrupt) kills the child if it still lives;
* **resource limits** (:class:`Limits`), applied in the child before the work starts;
* **events** streamed from the child while it works (``emit`` in the child, ``on_event`` here);
* **one outcome**: the work's return value, or an error payload that the caller's
  ``describe_error`` made from the exception *in the child* (so it can hold a message for the user).

How the outcome reads to a user is the caller's business: :class:`ChildTimedOut`,
:class:`ChildDied` and :class:`ChildFailed` are raised here and translated by the caller (the render
library to ``RenderError``, ingest to ``DxglError``).

The protocol on the one-way pipe from child to parent: any number of ``("event", event)``, then
exactly one ``("done", result)`` or ``("error", payload)``. The child's side sends under a lock, so
its worker threads may emit too. Standard library only.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Final, TypeVar

T = TypeVar("T")

# In the child: ``emit(event)`` sends one picklable event to the parent's ``on_event``.
Emit = Callable[[Any], None]
# In the child: exception -> picklable error payload (called inside the ``except`` block, so
# ``traceback.format_exc()`` works there).
DescribeError = Callable[[BaseException], Any]

# Numeric libraries size thread pools and arenas by CPU count; one thread keeps a child's address
# space small and predictable under RLIMIT_AS.
ONE_THREAD_ENV: Final[Mapping[str, str]] = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_POLL_S = 0.25  # how often the parent checks that a silent child is still alive
_DRAIN_S = 1.0  # a child found dead may have sent its last message just before exiting
_KILL_WAIT_S = 5.0  # how long to wait for a killed child to be reaped


@dataclass(frozen=True)
class Limits:
    """Resource limits set in the child (``resource.setrlimit``) before the work starts. ``None``
    leaves a limit as the parent had it."""

    memory_bytes: int | None = None  # RLIMIT_AS, soft and hard
    cpu_s: float | None = None  # RLIMIT_CPU: soft int(cpu_s) + 1 s (SIGXCPU), hard one second more
    file_bytes: int | None = None  # RLIMIT_FSIZE: the largest file the child may write
    env: Mapping[str, str] = field(default_factory=dict)  # set in the child's os.environ

    def apply(self) -> None:
        """Set these limits on the calling process (the child)."""
        os.environ.update(self.env)
        if self.memory_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (self.memory_bytes, self.memory_bytes))
        if self.cpu_s is not None:
            cpu = int(self.cpu_s) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        if self.file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.file_bytes, self.file_bytes))


class ChildError(Exception):
    """The child gave no result. The subclasses say why."""


class ChildTimedOut(ChildError):
    """The child ran past ``timeout_s`` and was killed."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"the child process ran longer than {timeout_s:g} s and was killed")
        self.timeout_s = timeout_s


class ChildDied(ChildError):
    """The child ended without sending an outcome: killed by a signal or a limit, or it exited."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"the child process ended without an answer (exit code {exitcode})")
        self.exitcode = exitcode


class ChildFailed(ChildError):
    """The work raised in the child; ``payload`` is what the caller's ``describe_error`` made of it."""

    def __init__(self, payload: Any) -> None:
        super().__init__(payload)
        self.payload = payload


class UnsendableResult(Exception):
    """Handed to ``describe_error`` in the child when the work's result cannot be pickled."""


def describe_plainly(exc: BaseException) -> str:
    """The default ``describe_error``: the exception's type and message."""
    return f"{type(exc).__name__}: {exc}"


def _child_main(
    conn: Connection,
    target: Callable[..., Any],
    args: tuple[Any, ...],
    limits: Limits | None,
    describe_error: DescribeError,
) -> None:
    """The spawned process: apply the limits, run ``target(*args, emit)``, send its outcome."""
    lock = threading.Lock()

    def send(message: tuple[str, Any]) -> None:
        with lock:
            conn.send(message)

    def emit(event: Any) -> None:
        send(("event", event))

    try:
        if limits is not None:
            limits.apply()
        try:
            result = target(*args, emit)
        except Exception as exc:  # every failure of the work becomes one error outcome
            send(("error", describe_error(exc)))
            return
        try:
            send(("done", result))
        except Exception as exc:  # pickling the result failed: nothing of it was written
            try:
                raise UnsendableResult(f"{type(exc).__name__}: {exc}") from exc
            except UnsendableResult as unsendable:
                send(("error", describe_error(unsendable)))
    finally:
        conn.close()


def run_in_child(
    target: Callable[..., T],
    args: tuple[Any, ...] = (),
    *,
    name: str = "dxgl-child",
    timeout_s: float | None = None,
    limits: Limits | None = None,
    on_event: Callable[[Any], None] | None = None,
    describe_error: DescribeError = describe_plainly,
    exit_grace_s: float = 5.0,
) -> T:
    """Call ``target(*args, emit)`` in a spawned child process and return its result.

    ``target`` and ``describe_error`` must be picklable (module-level functions, or
    ``functools.partial`` of them), and so must ``args``, every event and the result. In the child,
    ``emit(event)`` sends an event; here ``on_event(event)`` receives it, on the caller's thread,
    in order. ``name`` names the child process (``multiprocessing.active_children()``).

    Raises :class:`ChildTimedOut` past ``timeout_s`` (``None``: no deadline), :class:`ChildDied`
    when the child ends without an outcome, :class:`ChildFailed` with ``describe_error(exc)`` when
    ``target`` raised. After its outcome the child gets ``exit_grace_s`` to exit; then, and on every
    other way out, it is killed if it still runs.
    """
    ctx = multiprocessing.get_context("spawn")  # never fork: a forked GL context hangs
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_child_main, name=name, args=(sender, target, tuple(args), limits, describe_error), daemon=True
    )
    try:
        child.start()
    except BaseException:
        receiver.close()
        raise
    finally:
        sender.close()  # the child holds the only write end: its exit ends the pipe
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while True:
            wait = _POLL_S
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ChildTimedOut(timeout_s if timeout_s is not None else 0.0)
                wait = min(wait, remaining)
            if not receiver.poll(wait):
                if not child.is_alive() and not receiver.poll(_DRAIN_S):
                    raise ChildDied(child.exitcode)
                continue
            try:
                kind, payload = receiver.recv()
            except (EOFError, OSError):
                child.join(exit_grace_s)  # it is gone or going: its exit code says how
                raise ChildDied(child.exitcode) from None
            if kind == "event":
                if on_event is not None:
                    on_event(payload)
                continue
            child.join(exit_grace_s)  # it only closes its end of the pipe and exits
            if kind == "done":
                result: T = payload
                return result
            raise ChildFailed(payload)
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(_KILL_WAIT_S)
