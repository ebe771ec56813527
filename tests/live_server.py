"""Real servers for tests and benches, written once.

- :func:`free_port`: a TCP port on 127.0.0.1 that nothing listens on;
- :class:`LiveServer`: ``create_app(settings)`` served by uvicorn in a thread of this process (its
  own event loop and lifespan; ``runtime`` is the server's, for tests that look inside);
- :class:`ServeProcess`: ``python -m dxgl.cli serve`` in a subprocess (the deployment shape), with
  the local account's token read from what it prints on its first start;
- :func:`wait_until_up`: poll a URL until it answers 200, failing early when the server died;
- :class:`SlowClient`: one request over a raw socket whose body is sent only in part (a slow or
  hostile client), finished on demand.

Both servers are context managers (start on enter, stop on exit). Timeouts here only guard against
a hung start; nothing depends on how fast a server starts. Benches import this module too (they put
the repository root on ``sys.path``), so it imports neither pytest nor ``tests.conftest``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

import httpx

if TYPE_CHECKING:
    from dxgl.config import Settings
    from dxgl.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
DXGL = [sys.executable, "-m", "dxgl.cli"]
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
TOKEN_PREFIX = "dxgl_sk_"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# DXGL_* settings a test run sets for every process it starts (tests/conftest.py): kept by clean_env.
# Test-wide settings subprocesses keep: previews off, and the session's one prepared-environment
# folder (tests/conftest.py; without it every `dxgl serve` / `dxgl worker` of a test would prepare
# the studio environment again, 5-9 s of numpy each).
TEST_WIDE_SETTINGS = ("DXGL_SYSTEM_PREVIEW", "DXGL_ENVIRONMENT_CACHE")


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any ``DXGL_*`` setting (but the test-wide ones of
    ``TEST_WIDE_SETTINGS``, when set: previews off in tests not about them), plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXGL_") or k in TEST_WIDE_SETTINGS}
    env.update(values)
    return env


def wait_until_up(
    url: str,
    *,
    alive: Callable[[], bool] = lambda: True,
    describe: Callable[[], str] = lambda: "",
    timeout_s: float = START_TIMEOUT_S,
) -> None:
    """Poll ``url`` until it answers 200. ``alive`` false (the server exited) fails at once."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise AssertionError(f"the server for {url} exited before it answered{describe()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {timeout_s:.0f} s{describe()}")


def stop_process(process: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)


class _Started:
    """Start on entering a ``with`` block, stop on leaving it."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> object:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LiveServer(_Started):
    """``create_app(settings)`` served by uvicorn on 127.0.0.1, in a thread with its own event loop
    and lifespan."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from dxgl.app import create_app

        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="dxgl-live-server", daemon=True)

    def start(self, timeout_s: float = START_TIMEOUT_S) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started, "uvicorn did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)

    @property
    def runtime(self) -> Runtime:
        return self.server.lifespan.state["runtime"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"


class ServeProcess(_Started):
    """``python -m dxgl.cli serve --port <free port>`` (and ``--host``, unless ``host`` is None) in
    a subprocess with exactly ``env`` (see :func:`clean_env`). Its stdout and stderr are read, line
    by line, by a thread into ``lines``; ``token`` is the first line that is an API token (what the
    bootstrap prints on an empty embedded database before uvicorn starts), or None."""

    def __init__(
        self, env: Mapping[str, str], *, host: str | None = "127.0.0.1", cwd: Path = ROOT, args: Sequence[str] = ()
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(env)
        self.cwd = cwd
        host_args = ["--host", host] if host else []
        self.command = [*DXGL, "serve", *host_args, "--port", str(self.port), *args]
        self.lines: list[str] = []
        self.token: str | None = None
        self.process: subprocess.Popen[str] | None = None
        self._got_token = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self, *, expect_token: bool = True, timeout_s: float = START_TIMEOUT_S) -> ServeProcess:
        """Start it and return once ``/v1/health`` answers 200; with ``expect_token``, first wait
        for the printed token (an AssertionError if it exits or prints none)."""
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env={"PYTHONUNBUFFERED": "1", **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name="dxgl-serve-output", daemon=True)
        self._reader.start()
        try:
            if expect_token:
                deadline = time.monotonic() + timeout_s
                while not self._got_token.wait(0.2):
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(
                            f"dxgl serve printed no token (exit code {self.process.poll()}){self.describe()}"
                        )
            wait_until_up(f"{self.url}/v1/health", alive=lambda: self.process.poll() is None, describe=self.describe)
        except BaseException:
            self.stop()
            raise
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            self.lines.append(line)
            if self.token is None and line.strip().startswith(TOKEN_PREFIX):
                self.token = line.strip()
                self._got_token.set()

    def stop(self) -> list[str]:
        """Stop it (SIGTERM, then SIGKILL) and return every line it printed."""
        if self.process is not None:
            stop_process(self.process)
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT_S)
        return self.lines

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def data_dir(self) -> Path:
        return Path(self.env["DXGL_DATA_DIR"])

    @property
    def headers(self) -> dict[str, str]:
        assert self.token is not None, "this server printed no token"
        return bearer(self.token)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def describe(self) -> str:
        tail = "\n".join(self.lines[-20:])
        return f"; its output ends:\n{tail}" if tail else ""


@dataclass
class SlowClient:
    """One HTTP/1.1 request over a raw socket, its body sent only in part until :meth:`finish`."""

    name: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    rest: bytes

    @classmethod
    async def start(
        cls, port: int, name: str, method: str, path: str, token: str, content_type: str, body: bytes
    ) -> SlowClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        cut = max(1, len(body) // 3)
        writer.write(head.encode() + body[:cut])
        await writer.drain()
        return cls(name, reader, writer, body[cut:])

    async def finish(self) -> tuple[int, bytes]:
        """Send the rest of the body (unless the server already answered) and read the answer."""
        try:
            self.writer.write(self.rest)
            await self.writer.drain()
        except ConnectionError:
            pass  # answered early (an upload refused before its body) and closed
        async with asyncio.timeout(START_TIMEOUT_S):  # only against a hang
            raw = await self.reader.read()
        self.writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 "), (self.name, raw[:200])
        return int(head.split()[1]), body
