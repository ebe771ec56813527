"""Support for the webhook tests (no tests here): a real webhook receiver on 127.0.0.1 that
records every request (headers and body exactly as received), answers what the test asks for and
counts every TCP connection; and a running app for settings a test chooses."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver(ThreadingHTTPServer):
    """``answer(path, headers, body) -> status`` decides each answer (default 204)."""

    daemon_threads = True

    def __init__(self, answer: Callable[[str, dict[str, str], bytes], int] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer or (lambda path, headers, body: 204)
        self.received: list[Received] = []
        self.accepted = 0
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def get_request(self):  # type: ignore[no-untyped-def]
        request = super().get_request()
        with self.lock:
            self.accepted += 1
        return request

    def __enter__(self) -> Self:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def of_type(self, event_type: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.event.get("type") == event_type]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status = self.server.answer(self.path, headers, body)
        with self.server.lock:
            self.server.received.append(Received(self.path, headers, body, status))
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()


async def until(check: Callable[[], Any], *, limit_s: float = 120.0, what: str = "the condition") -> Any:
    """Poll ``check`` (a function, or a coroutine function) until it is truthy (a guard against
    hanging, not a speed check)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = check()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {limit_s} s")
