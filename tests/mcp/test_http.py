"""``/mcp``: the SDK's streamable HTTP client against a live server. Bearer token required; the
tools are the REST API in process with the caller's token, so scopes, tenancy and error codes are
REST's; the full agent flow on Duck.glb runs a real (tiny) render."""

from __future__ import annotations

import httpx
import pytest

from dxgl.contract import RenderStatus
from tests.live_server import LiveServer, bearer
from tests.mcp.conftest import (
    COMMON_TOOLS,
    DUCK,
    Progress,
    call,
    duck_sha256,
    http_client,
    http_session,
    make_token,
    refused,
    revoke,
)


def test_mcp_refuses_a_request_without_a_valid_token(server: LiveServer) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    for headers in ({}, {"Authorization": "Bearer dxgl_sk_notarealtoken"}, {"Authorization": "Basic abc"}):
        r = httpx.post(f"{server.url}/mcp", json=initialize, headers={"Accept": "application/json", **headers})
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")


async def test_the_sdk_client_without_a_token_gets_no_session(server: LiveServer) -> None:
    listed = None
    # The SDK turns the 401 into an error of its own (no status in it): initialising fails.
    with pytest.raises(BaseException):  # noqa: B017 - an ExceptionGroup of the SDK's MCPError
        async with http_session(server.url, None) as session:
            listed = await session.list_tools()
    assert listed is None


async def test_scopes_tenancy_and_error_codes_are_those_of_rest(server: LiveServer) -> None:
    owner = await make_token(server.runtime.settings)
    reader = await make_token(server.runtime.settings, scopes="models:read renders:read")
    stranger = await make_token(server.runtime.settings)
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(owner), timeout=60) as rest:
        up = await rest.post("/v1/models", files={"file": ("Duck.glb", DUCK.read_bytes())})
        assert up.status_code == 201, up.text
    model_id, render_id = up.json()["data"]["modelId"], up.json()["data"]["renderId"]

    async with http_session(server.url, reader) as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        # The HTTP endpoint never reads the server's own files: no local-path upload here.
        assert tools == COMMON_TOOLS
        error = await refused(session, "create_render", model_id=model_id)
        assert (error["code"], error["status"]) == ("insufficient_scope", 403)
        error = await refused(session, "ingest_model", url="https://example.com/a.glb")
        assert error["code"] == "insufficient_scope"

    async with http_session(server.url, stranger) as session:
        assert (await refused(session, "get_render", render_id=render_id))["code"] == "render_not_found"
        assert (await refused(session, "get_model", model_id=model_id))["code"] == "model_not_found"
        assert (await call(session, "check_hash", sha256=duck_sha256()))["exists"] is False
        assert (await refused(session, "get_render", render_id="../models"))["code"] == "render_not_found"

    async with http_session(server.url, owner) as session:
        error = await refused(session, "create_render", model_id=model_id, render_settings={"aspect": "2:1"})
        assert (error["code"], error["status"]) == ("invalid_settings", 400)
        assert (await refused(session, "create_batch", renders=[]))["code"] == "renders_required"
        # URL ingest obeys the network policy of REST: only this server's setting lets loopback in.
        server.runtime.settings.ingest_allow_private = False
        assert (await refused(session, "ingest_model", url=f"{server.url}/v1/health"))["code"] == "invalid_url"
        server.runtime.settings.ingest_allow_private = True
        # A retry with the same Idempotency-Key answers the first render again, charging nothing.
        first = await call(session, "create_render", model_id=model_id, idempotency_key="mcp-retry-1")
        again = await call(session, "create_render", model_id=model_id, idempotency_key="mcp-retry-1")
        assert again == first
        renders = await call(session, "list_renders", model_id=model_id)
        assert renders["meta"]["total"] == 2  # the upload's render and this one
        # Asking for a local file over HTTP: no such tool, so the server's files stay unread.
        local = await session.call_tool("upload_model", {"path": str(DUCK)})
        assert local.is_error

    # Every request is authenticated again: a token revoked mid-session stops working at once.
    revoked, answered = False, None
    with pytest.raises(BaseException):  # noqa: B017 - the SDK's error group for the 401
        async with http_session(server.url, owner) as session:
            before = await session.call_tool("get_render", {"render_id": render_id})
            await revoke(server.runtime.settings, owner)
            revoked = True
            answered = await session.call_tool("get_render", {"render_id": render_id})
    assert not before.is_error and revoked and answered is None


@pytest.mark.render
async def test_an_agent_ingests_duck_renders_it_and_gets_the_video(server: LiveServer, duck_url: str) -> None:
    token = await make_token(server.runtime.settings, credits=10)
    async with http_client(server.url, token) as session:
        assert session.protocol_version == "2026-07-28"
        assert {tool.name for tool in (await session.list_tools()).tools} >= COMMON_TOOLS
        created = await call(session, "ingest_model", url=duck_url, render_settings={"aspect": "16:9"})
        model_id = created["modelId"]
        assert (await call(session, "check_hash", sha256=duck_sha256())) == {"exists": True, "modelId": model_id}

        model = await call(session, "update_model", model_id=model_id, title="Rubber duck", tags=["Toys"])
        assert (model["title"], model["tags"]) == ("Rubber duck", ["toys"])
        listed = await call(session, "list_models", tags=["toys"])
        assert [m["id"] for m in listed["models"]] == [model_id] and listed["meta"]["total"] == 1

        price = await call(session, "quote", model_id=model_id, render_settings={"aspect": "1:1"})
        assert price["credits"] == 1 and price["sufficient"] is True
        render = await call(session, "create_render", model_id=model_id, render_settings={"aspect": "1:1"})
        assert render["status"] == "pending"

        progress = Progress([])
        result = await session.call_tool("wait_for_render", {"render_id": render["id"]}, progress_callback=progress)
        assert not result.is_error, result.content
        done = result.structured_content
        assert done is not None and done["finished"] is True and done["status"] == RenderStatus.DONE, done
        # One notification per status reached, in order, ending with done (step 5 of 5).
        steps = [p for p, _, _ in progress.seen]
        assert steps == sorted(set(steps)) and progress.seen[-1] == (5, 5, "done"), progress.seen

        got = await call(session, "get_render", render_id=render["id"])
        video_url = got["assets"]["video"]
        assert video_url == f"{server.url}/v1/renders/{render['id']}/video"

    video = httpx.get(video_url, headers=bearer(token), timeout=60)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert len(video.content) == got["fileSize"] > 0
