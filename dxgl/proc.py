"""Running one function in a spawned child process: the mechanics every caller shares, once.

The render library (GL in its own process) and model ingest (untrusted parsers under resource
limits) both do their work in a child process. What they have in common lives here:

* **spawn, never fork**: a fork after a GL context exists hangs, and a fork copies the parent's
  threads' locks in whatever state they are;
* **a deadline** (``timeout_s``): past it the child is killed;
* **no child is ever left running**: every way out of :func:`run_in_child` (result, error, timeout,
  a crash, an exception in the caller's ``on_event``, an interrupt) kills the child if it still lives;
* **a lower CPU priority** (nice, :data:`CHILD_NICE` above the parent's): renders, encoders and
  ingest parses never compete on equal terms with the process that answers requests. The parent
  sets it on the child right after the start (so the child's imports already run niced) and the
  child sets it again before the work; its own processes (ffmpeg, basisu) inherit it. Linux's
  autogroup weighs nice only within one session: the child stays in the parent's session;
* **resource limits** (:class:`Limits`), applied in the child before the work starts;
* **resident memory watched** (``resident_limit_bytes``): the parent reads the child's and its
  descendants' resident memory from ``/proc`` while it waits, and kills them past the limit
  (:class:`ChildOverMemory`). Unlike ``RLIMIT_AS`` this counts memory really used, not address space
  reserved (GL drivers reserve far more than they touch);
* **events** streamed from the child while it works (``emit`` in the child, ``on_event`` here);
* **one outcome**: the work's return value, or an error payload that the caller's
  ``describe_error`` made from the exception *in the child* (so it can hold a message for the user).

How the outcome reads to a user is the caller's business: :class:`ChildTimedOut`,
:class:`ChildOverMemory`, :class:`ChildDied` and :class:`ChildFailed` are raised here and translated by the caller (the render
library to ``RenderError``, ingest to ``DxglError``).

The protocol on the one-way pipe from child to parent: any number of ``("event", event)``, then
exactly one ``("done", result)`` or ``("error", payload)``. The child's side sends under a lock, so
its worker threads may emit too. Standard library only.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
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

# How much lower a child's CPU priority is than its parent's (nice 0 -> 10; 19 is the lowest).
CHILD_NICE: Final = 10
_LOWEST_PRIORITY = 19

_POLL_S = 0.25  # how often the parent checks that a silent child is still alive
_DRAIN_S = 1.0  # a child found dead may have sent its last message just before exiting
_KILL_WAIT_S = 5.0  # how long to wait for a killed child to be reaped
_RESIDENT_POLL_S = 0.1  # how often the parent reads a watched child's resident memory


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


class ChildOverMemory(ChildError):
    """The child (with its descendants) used more resident memory than ``resident_limit_bytes``
    and was killed, with its descendants."""

    def __init__(self, limit_bytes: int, resident_bytes: int) -> None:
        super().__init__(
            f"the child process used {resident_bytes} bytes of resident memory, over its limit of {limit_bytes}"
        )
        self.limit_bytes = limit_bytes
        self.resident_bytes = resident_bytes


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


def _status_bytes(pid: int, fields: tuple[str, ...]) -> dict[str, int]:
    """The named ``kB`` fields of ``/proc/<pid>/status`` in bytes; empty when the process is gone."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in fields:
                    found[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    return found


def _children_of(pid: int) -> list[int]:
    """The direct children of ``pid`` (``/proc/<pid>/task/*/children``); empty when it is gone."""
    children: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                    children.extend(int(c) for c in f.read().split())
            except (OSError, ValueError):
                continue
    except OSError:
        return []
    return children


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children, their children, ...), Linux only."""
    found: list[int] = []
    queue = _children_of(pid)
    while queue:
        child = queue.pop()
        if child not in found:
            found.append(child)
            queue.extend(_children_of(child))
    return found


def resident_bytes(pid: int) -> tuple[int, list[int]] | None:
    """The resident memory that ``pid`` answers for, and its descendants' ids; None without ``/proc``.

    The figure is the larger of: the resident memory (VmRSS) of the process and all its
    descendants now, and the process's own peak (VmHWM), which catches a burst between two reads."""
    own = _status_bytes(pid, ("VmRSS", "VmHWM"))
    if not own:
        return None
    tree = descendants(pid)
    now = own.get("VmRSS", 0) + sum(_status_bytes(p, ("VmRSS",)).get("VmRSS", 0) for p in tree)
    return max(now, own.get("VmHWM", 0)), tree


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:  # already gone
            pass


def child_priority() -> int:
    """The nice value of a child of this process: :data:`CHILD_NICE` above this process's own."""
    return min(_LOWEST_PRIORITY, os.getpriority(os.PRIO_PROCESS, 0) + CHILD_NICE)


def lower_priority(pid: int, nice: int) -> None:
    """Set process ``pid``'s nice value to ``nice`` when it is lower (a lower priority needs no
    privilege; a higher one would). A process already gone is left alone."""
    try:
        if os.getpriority(os.PRIO_PROCESS, pid) < nice:
            os.setpriority(os.PRIO_PROCESS, pid, nice)
    except OSError:  # gone already, or a platform without priorities: nothing to lower
        pass


def describe_plainly(exc: BaseException) -> str:
    """The default ``describe_error``: the exception's type and message."""
    return f"{type(exc).__name__}: {exc}"


def _child_main(
    conn: Connection,
    target: Callable[..., Any],
    args: tuple[Any, ...],
    limits: Limits | None,
    describe_error: DescribeError,
    nice: int,
) -> None:
    """The spawned process: lower its priority, apply the limits, run ``target(*args, emit)``,
    send its outcome."""
    lower_priority(0, nice)  # again here: the parent's setting may have raced the start
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
    resident_limit_bytes: int | None = None,
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

    With ``resident_limit_bytes``, the child's resident memory (see :func:`resident_bytes`: the
    child and its descendants, read from ``/proc`` about every 0.1 s while waiting) is watched:
    past the limit the child and its descendants are killed and :class:`ChildOverMemory` is raised.
    No address-space limit is involved. Without ``/proc`` (not Linux) nothing is watched.
    """
    ctx = multiprocessing.get_context("spawn")  # never fork: a forked GL context hangs
    receiver, sender = ctx.Pipe(duplex=False)
    nice = child_priority()
    child = ctx.Process(
        target=_child_main, name=name, args=(sender, target, tuple(args), limits, describe_error, nice), daemon=True
    )
    try:
        child.start()
    except BaseException:
        receiver.close()
        raise
    finally:
        sender.close()  # the child holds the only write end: its exit ends the pipe
    if child.pid is not None:
        lower_priority(child.pid, nice)  # before its imports get far: the API keeps the CPU
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    next_watch = time.monotonic()
    try:
        while True:
            if resident_limit_bytes is not None and time.monotonic() >= next_watch:
                next_watch = time.monotonic() + _RESIDENT_POLL_S
                _watch_resident(child, resident_limit_bytes)
            wait = _POLL_S if resident_limit_bytes is None else _RESIDENT_POLL_S
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


def _watch_resident(child: Any, limit_bytes: int) -> None:
    """Kill ``child`` (a started multiprocessing Process) and its descendants when their resident
    memory is over ``limit_bytes``, raising ChildOverMemory."""
    pid = child.pid
    if pid is None or not child.is_alive():  # a dead child is reaped here: its pid is never read again
        return
    sample = resident_bytes(pid)
    if sample is None:
        return
    used, _ = sample
    if used > limit_bytes:
        # Frozen first, so that it starts nothing more; then its own processes (the encoders), which
        # would otherwise outlive it, then the child itself.
        _signal_all([pid], signal.SIGSTOP)
        _signal_all(descendants(pid), signal.SIGKILL)
        child.kill()
        child.join(_KILL_WAIT_S)
        raise ChildOverMemory(limit_bytes, used)
