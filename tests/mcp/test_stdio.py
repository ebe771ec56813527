"""``dxgl mcp``: the SDK's stdio client starts it as a subprocess, a client of a live server at
DXGL_API_URL with DXGL_TOKEN. The full agent flow uploads Duck.glb from a local path and renders it
(tiny); the local-path tool exists here only."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from dxgl.contract import RenderStatus
from tests.live_server import DXGL, ROOT, LiveServer, bearer, clean_env, free_port
from tests.mcp.conftest import COMMON_TOOLS, DUCK, Progress, call, make_token, refused, stdio_session


def test_dxgl_mcp_without_a_token_says_so() -> None:
    done = subprocess.run(
        [*DXGL, "mcp"], cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 2
    assert "DXGL_TOKEN" in done.stderr and done.stdout == ""


async def test_an_unreachable_service_is_a_coded_tool_error() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    async with stdio_session(nobody, "dxgl_sk_whatever") as session:
        error = await refused(session, "list_models")
    assert (error["code"], error["status"]) == ("service_unavailable", 503)
    assert nobody in error["message"]


@pytest.mark.render
async def test_an_agent_uploads_duck_renders_it_and_gets_the_video(server: LiveServer, tmp_path) -> None:
    token = await make_token(server.runtime.settings, credits=10)
    async with stdio_session(server.url, token) as session:
        assert {tool.name for tool in (await session.list_tools()).tools} == COMMON_TOOLS | {"upload_model"}
        missing = await refused(session, "upload_model", path=str(tmp_path / "nothing.glb"))
        assert missing["code"] == "no_file"

        uploaded = await call(session, "upload_model", path=str(DUCK), render_settings={"aspect": "16:9"})
        model_id = uploaded["modelId"]
        again = await call(session, "upload_model", path=str(DUCK))
        assert again["modelId"] == model_id and again["duplicate"] is True

        batch = await call(
            session, "create_batch", renders=[{"modelId": model_id, "renderSettings": {"aspect": "1:1"}}]
        )
        (render,) = batch["renders"]
        progress = Progress([])
        result = await session.call_tool("wait_for_render", {"render_id": render["id"]}, progress_callback=progress)
        assert not result.is_error, result.content
        done = result.structured_content
        assert done is not None and done["status"] == RenderStatus.DONE and done["finished"] is True, done
        assert progress.seen and progress.seen[-1] == (5, 5, "done"), progress.seen

        got = await call(session, "get_render", render_id=render["id"])
        assert got["assets"]["video"] == f"{server.url}/v1/renders/{render['id']}/video"
        assert set(got["assets"]) >= {"video", "poster", "posterFull", "thumb", "bundle"}

    video = httpx.get(got["assets"]["video"], headers=bearer(token), timeout=60)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert len(video.content) == got["fileSize"] > 0
