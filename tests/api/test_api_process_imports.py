"""Starting the API process never imports vispy (nor PyOpenGL): GL lives only in spawned render
children. Each case runs in a fresh interpreter (this test process has imported everything): it
imports ``dxgl.app``, calls ``create_app()`` with settings from the environment (as ``dxgl serve``
does), runs its lifespan under a real uvicorn server, serves requests, and reports what
``sys.modules`` holds.

- renders off (``DXGL_RUN_RENDERS_IN_PROCESS=false``): the lifespan and one request;
- the embedded default (renders run by the API process): a model is uploaded and its render runs
  to ``done``, so the render child was spawned and did its GL work, and still the API process
  itself has no vispy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ASSETS
from tests.live_server import ROOT, clean_env

pytestmark = pytest.mark.slow  # fresh interpreters serving and rendering: not in the quick subset

# Run with ``python -c`` (so a spawned child has no main module to import again). argv[1] is the
# model to upload, or "" for none. The last line printed is a JSON report.
CHILD = r"""
import asyncio, json, sys, time
from pathlib import Path

import httpx

import dxgl.app
from dxgl.config import get_settings
from dxgl.runtime import Runtime
from dxgl.services import accounts, auth
from tests.live_server import LiveServer

GL = ("vispy", "OpenGL")


def gl_modules():  # vispy, PyOpenGL and any of their submodules
    return sorted(m for m in sys.modules if m.split(".")[0] in GL)


async def make_token(settings):
    rt = await Runtime.start(settings)
    try:
        async with rt.unit_of_work() as session:
            account = await accounts.create_account(session, email="imports@example.com", paid_credits=5)
            _, raw = await auth.create_token(session, account=account)
        return raw
    finally:
        await rt.close()


settings = get_settings()
report = {"after_import": gl_modules()}
token = asyncio.run(make_token(settings))
server = LiveServer(settings)  # dxgl.app.create_app(settings), served by uvicorn in a thread
report["after_create_app"] = gl_modules()
with server:  # starts it: the lifespan: runtime, migrations, the embedded runner if renders run here
    report["after_lifespan"] = gl_modules()
    report["renders_in_process"] = settings.run_renders_in_process and server.runtime.embedded
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        report["health"] = client.get("/v1/health").status_code
        report["account"] = client.get("/v1/account").status_code
        model = Path(sys.argv[1]) if sys.argv[1] else None
        if model is not None:
            r = client.post("/v1/models", files={"file": (model.name, model.read_bytes())})
            render_id = r.json()["data"]["renderId"]
            deadline = time.monotonic() + 300  # only against a hang
            status = "pending"
            while status not in ("done", "error", "failed") and time.monotonic() < deadline:
                time.sleep(0.2)
                status = client.get(f"/v1/renders/{render_id}").json()["data"]["status"]
            report["render"] = status
    report["after_requests"] = gl_modules()
report["at_exit"] = gl_modules()
print(json.dumps(report))
"""


def run_api_process(tmp_path: Path, *, renders_in_process: bool, model: Path | None) -> dict:
    env = clean_env(
        DXGL_DATA_DIR=str(tmp_path / "data"),
        DXGL_RUN_RENDERS_IN_PROCESS="true" if renders_in_process else "false",
        DXGL_RENDER_MAX_SIZE="160",
        DXGL_RENDER_MAX_LENGTH="1",
        DXGL_LOG_LEVEL="warning",
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(model or "")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_no_gl(report: dict) -> None:
    for moment in ("after_import", "after_create_app", "after_lifespan", "after_requests", "at_exit"):
        assert report[moment] == [], f"{moment}: {report[moment]}"


def test_api_process_with_renders_off_never_imports_vispy(tmp_path: Path) -> None:
    report = run_api_process(tmp_path, renders_in_process=False, model=None)
    assert report["renders_in_process"] is False
    assert report["health"] == 200 and report["account"] == 200
    assert_no_gl(report)


@pytest.mark.render
def test_embedded_default_renders_in_a_child_and_never_imports_vispy(tmp_path: Path) -> None:
    report = run_api_process(tmp_path, renders_in_process=True, model=ASSETS / "Duck.glb")
    assert report["renders_in_process"] is True
    assert report["health"] == 200 and report["account"] == 200
    assert report["render"] == "done", report  # the GL work happened, in a child
    assert_no_gl(report)
