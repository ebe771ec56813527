"""A real HTTP server on 127.0.0.1 that counts every TCP connection it accepts.

Used to prove that refused URLs never open a connection, and to serve redirects, slow bodies,
lying headers and real model bytes for the successful-fetch tests.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from . import builders as b


def model_glb() -> bytes:
    doc, blob = b.triangle_document()
    import json

    return b.glb_bytes(json.dumps(doc).encode(), blob)


class LocalHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1 (a free port), serving in a thread inside ``with``."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def __enter__(self) -> Self:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class CountingServer(LocalHTTPServer):
    def __init__(self) -> None:
        super().__init__(_Handler)
        self.accepted = 0
        self.paths: list[str] = []
        self.glb = model_glb()

    def get_request(self):
        request = super().get_request()
        self.accepted += 1
        return request


class _Handler(BaseHTTPRequestHandler):
    server: CountingServer

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, length: bool = True) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        path = self.path
        port = self.server.port
        if path == "/model.glb":
            self._send(
                200, self.server.glb, {"Content-Disposition": 'attachment; filename="../../etc/my chair;rm -rf.glb"'}
            )
        elif path.startswith("/hop/"):
            remaining = int(path.rsplit("/", 1)[1])
            target = "/model.glb" if remaining == 0 else f"/hop/{remaining - 1}"
            self._send(302, headers={"Location": target})
        elif path.startswith("/redirect-to?"):
            self._send(302, headers={"Location": path.split("?", 1)[1].replace("PORT", str(port))})
        elif path == "/big-no-length":
            # No Content-Length (HTTP/1.0, close-delimited): only counting can stop it.
            self._send(200, headers={}, length=False, body=b"")
            try:
                self.wfile.write(self.server.glb[:12])
                for _ in range(64):
                    self.wfile.write(b"\x00" * 65536)
            except OSError:
                pass
        elif path == "/big-declared":
            self.send_response(200)
            self.send_header("Content-Length", str(50 * 1024 * 1024))
            self.end_headers()
        elif path == "/slow":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(50):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
        elif path == "/archive.zip":
            self._send(200, b"PK\x05\x06" + b"\x00" * 18)
        else:
            self._send(404, b"not found")
