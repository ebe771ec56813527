"""The MCP tools, written once for both transports (docs/mcp.md).

``build_server(connect, local_files=...)`` registers every tool on an ``MCPServer``. A tool opens
``connect(ctx)`` (an ``Api`` for the caller of this request), makes one or more REST calls and
answers the REST ``data`` as structured content (its JSON as text too). A REST error becomes a tool
error (``isError``) whose content is the REST error envelope, code included.

``local_files`` is True only for ``dxgl mcp`` on stdio, where the agent and the files are on the
caller's own machine: only then does ``upload_model`` (a local path) exist. The HTTP endpoint must
never read the server's own files, so there the tool is not even listed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, ParamSpec

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from dxgl.contract import FINISHED, ErrorCode, RenderStatus
from dxgl.ids import is_id
from dxgl.mcp.api import Api, ApiError
from dxgl.services.render_settings import is_dataset

Connect = Callable[[Context], AbstractAsyncContextManager[Api]]
P = ParamSpec("P")

# The statuses a render moves through to done, in order: wait_for_render's progress steps.
STEPS = (
    RenderStatus.PENDING,
    RenderStatus.POSTER_PROCESSING,
    RenderStatus.POSTER_DONE,
    RenderStatus.VIDEO_PROCESSING,
    RenderStatus.DONE,
)
POLL_S = 1.0
WAIT_DEFAULT_S = 600.0
WAIT_MAX_S = 3600.0

ModelId = Annotated[str, Field(description="A model id, as upload or list_models answer it")]
RenderId = Annotated[str, Field(description="A render id")]
Settings = Annotated[
    dict[str, Any] | None,
    Field(description="renderSettings as in the REST API (aspect, bgColor, length, quality, effect, ...)"),
]
IdempotencyKey = Annotated[
    str | None,
    Field(description="Optional Idempotency-Key: retrying with the same key never creates (or charges) twice"),
]
RenderItems = Annotated[
    list[dict[str, Any]],
    Field(description='Items {"modelId": ..., "renderSettings": {...}}, at most 100'),
]

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
CREATE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


def _ok(data: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(data))], structured_content=data)


def _failed(error: ApiError) -> CallToolResult:
    text = json.dumps(error.envelope)
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=error.envelope, is_error=True
    )


def _answers(tool: Callable[P, Awaitable[dict[str, Any]]]) -> Callable[P, Awaitable[CallToolResult]]:
    """A tool body returns its data or raises ApiError; this turns both into the tool result."""

    async def run(*args: P.args, **kwargs: P.kwargs) -> CallToolResult:
        try:
            return _ok(await tool(*args, **kwargs))
        except ApiError as error:
            return _failed(error)

    # The SDK derives the input schema from the signature and the output from its return type: the
    # tool's own parameters, and CallToolResult (built here, so no output schema is advertised).
    signature = inspect.signature(tool, eval_str=True).replace(return_annotation=CallToolResult)
    run.__name__, run.__doc__, run.__module__ = tool.__name__, tool.__doc__, tool.__module__
    run.__signature__ = signature  # type: ignore[attr-defined]
    run.__annotations__ = {
        **{name: p.annotation for name, p in signature.parameters.items()},
        "return": CallToolResult,
    }
    return run


def _id(value: str, missing: ErrorCode) -> str:
    """An id as one URL path segment: anything that is not an id names no row, so it is that row's
    404, never a request to some other route."""
    if not is_id(value):
        raise ApiError.of(missing)
    return value


def _idempotent(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


async def _create(
    ctx: Any, connect: Any, path: str, body: dict[str, Any], render_settings: Any, key: str | None
) -> dict[str, Any]:
    """POST a creating body (with ``renderSettings`` when given) under an optional Idempotency-Key."""
    if render_settings is not None:
        body = {**body, "renderSettings": render_settings}
    async with connect(ctx) as api:
        result: dict[str, Any] = await api.data("POST", path, json=body, headers=_idempotent(key))
    return result


def asset_links(api: Api, render: dict[str, Any]) -> dict[str, str]:
    """Where a done render's files are (GET with the same Bearer token); none before it is done."""
    if render.get("status") != RenderStatus.DONE:
        return {}
    base = f"/v1/renders/{_id(render['id'], ErrorCode.RENDER_NOT_FOUND)}"
    if is_dataset(render.get("renderSettings") or {}):
        return {"dataset": api.link(f"{base}/bundle"), "poster": api.link(f"{base}/poster")}
    links = {
        "video": api.link(f"{base}/video"),
        "poster": api.link(f"{base}/poster"),
        "posterFull": api.link(f"{base}/poster?quality=full"),
        "thumb": api.link(f"{base}/thumb"),
        "bundle": api.link(f"{base}/bundle"),
    }
    if render.get("hasWebVariant"):
        links["videoWeb"] = api.link(f"{base}/video?quality=web")
    return links


async def _render(api: Api, render_id: str) -> dict[str, Any]:
    render: dict[str, Any] = await api.data("GET", f"/v1/renders/{_id(render_id, ErrorCode.RENDER_NOT_FOUND)}")
    return {**render, "assets": asset_links(api, render)}


def _step(status: str) -> int:
    """How many of STEPS a render in ``status`` has reached (error and failed count as the end)."""
    return STEPS.index(RenderStatus(status)) + 1 if status in STEPS else len(STEPS)


def _version() -> str:
    try:
        return metadata.version("dxgl")
    except metadata.PackageNotFoundError:  # a checkout that was never installed
        return ""


def build_server(connect: Connect, *, local_files: bool) -> MCPServer:
    # WARNING: the SDK configures the root logger when none is; INFO would make the API chatty.
    server = MCPServer(
        "dxgl",
        instructions=(
            "DXGL turns 3D models (GLB, glTF, OBJ/USDZ/STL scans) into product videos. Upload or ingest a "
            "model, create renders (quote first to see the credits), wait for them, then download the "
            "asset links with the same Bearer token. Errors carry the REST error envelope and its code."
        ),
        version=_version(),
        log_level="WARNING",
    )

    if local_files:

        @server.tool(annotations=CREATE)
        @_answers
        async def upload_model(
            ctx: Context,
            path: Annotated[str, Field(description="A local file: .glb, .gltf, .zip (OBJ scan), .usdz, .stl, ...")],
            render_settings: Settings = None,
            idempotency_key: IdempotencyKey = None,
        ) -> dict[str, Any]:
            """Upload a 3D model file from this machine. Like POST /v1/models, it creates the model
            (or finds the same file already uploaded: duplicate true) and a first render with
            render_settings. Answers modelId and renderId."""
            file = Path(path).expanduser()
            if not file.is_file():
                raise ApiError.of(ErrorCode.NO_FILE, f"No file at {path}")
            form = {"renderSettings": json.dumps(render_settings)} if render_settings is not None else {}
            async with connect(ctx) as api:
                with file.open("rb") as stream:
                    result: dict[str, Any] = await api.data(
                        "POST",
                        "/v1/models",
                        files={"file": (file.name, stream, "application/octet-stream")},
                        data=form,
                        headers=_idempotent(idempotency_key),
                    )
            return result

    @server.tool(annotations=CREATE)
    @_answers
    async def ingest_model(
        ctx: Context,
        url: Annotated[str, Field(description="A public http(s) URL of a GLB or glTF file")],
        render_settings: Settings = None,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Upload a 3D model from a URL (POST /v1/models/ingest): the service downloads it. Creates the
        model and a first render like an upload. Answers modelId and renderId."""
        return await _create(ctx, connect, "/v1/models/ingest", {"url": url}, render_settings, idempotency_key)

    @server.tool(annotations=READ)
    @_answers
    async def check_hash(
        ctx: Context, sha256: Annotated[str, Field(description="The SHA-256 of a file, in hex")]
    ) -> dict[str, Any]:
        """Whether a file with this SHA-256 is already uploaded (exists, modelId): upload it only if not."""
        async with connect(ctx) as api:
            result: dict[str, Any] = await api.data("POST", "/v1/models/check-hash", json={"sha256": sha256})
        return result

    @server.tool(annotations=READ)
    @_answers
    async def list_models(
        ctx: Context,
        search: Annotated[str | None, Field(description="Words to find in title, sku or file name")] = None,
        tags: Annotated[list[str] | None, Field(description="Only models with all these tags")] = None,
        archived: Annotated[bool, Field(description="List archived models instead")] = False,
        limit: Annotated[int, Field(ge=1, le=100)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> dict[str, Any]:
        """The caller's models, newest first: {"models": [...], "meta": {"total", "offset", "limit"}}."""
        params: dict[str, Any] = {"limit": limit, "offset": offset, "archived": "true" if archived else "false"}
        if search:
            params["search"] = search
        if tags:
            params["tags"] = ",".join(tags)
        async with connect(ctx) as api:
            body = await api.call("GET", "/v1/models", params=params)
        return {"models": body["data"], "meta": body["meta"]}

    @server.tool(annotations=READ)
    @_answers
    async def get_model(ctx: Context, model_id: ModelId) -> dict[str, Any]:
        """One model with its inspection report and its renders."""
        async with connect(ctx) as api:
            result: dict[str, Any] = await api.data("GET", f"/v1/models/{_id(model_id, ErrorCode.MODEL_NOT_FOUND)}")
        return result

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True))
    @_answers
    async def update_model(
        ctx: Context,
        model_id: ModelId,
        title: Annotated[str | None, Field(description="Display title")] = None,
        sku: Annotated[str | None, Field(description="Product code")] = None,
        tags: Annotated[list[str] | None, Field(description="Up to 20 tags; replaces the model's tags")] = None,
        archived: Annotated[bool | None, Field(description="true archives the model, false restores it")] = None,
    ) -> dict[str, Any]:
        """Change a model's title, sku or tags (only those given), and archive or restore it."""
        changes = {k: v for k, v in {"title": title, "sku": sku, "tags": tags}.items() if v is not None}
        path = f"/v1/models/{_id(model_id, ErrorCode.MODEL_NOT_FOUND)}"
        async with connect(ctx) as api:
            model: dict[str, Any] | None = None
            if changes or archived is None:
                model = await api.data("PATCH", path, json=changes)
            if archived is not None:
                model = await api.data("PATCH", f"{path}/{'archive' if archived else 'unarchive'}")
        assert model is not None
        return model

    @server.tool(annotations=READ)
    @_answers
    async def quote(
        ctx: Context,
        model_id: Annotated[str | None, Field(description="For one render: its model")] = None,
        render_settings: Settings = None,
        renders: Annotated[list[dict[str, Any]] | None, Field(description="For a batch: its items")] = None,
    ) -> dict[str, Any]:
        """What a render (model_id, render_settings) or a batch (renders) would cost, creating
        nothing: credits, per item paidBy and watermark, the balance, and whether it suffices."""
        body: dict[str, Any] = {"renders": renders} if renders is not None else {"modelId": model_id}
        if renders is None and render_settings is not None:
            body["renderSettings"] = render_settings
        async with connect(ctx) as api:
            result: dict[str, Any] = await api.data("POST", "/v1/quote", json=body)
        return result

    @server.tool(annotations=CREATE)
    @_answers
    async def create_render(
        ctx: Context, model_id: ModelId, render_settings: Settings = None, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Queue a render of a model (charges its credits). Answers id, modelId, status, renderSettings."""
        return await _create(ctx, connect, "/v1/renders", {"modelId": model_id}, render_settings, idempotency_key)

    @server.tool(annotations=CREATE)
    @_answers
    async def create_batch(
        ctx: Context, renders: RenderItems, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Queue up to 100 renders at once; credits are charged for all or none. Answers {"renders": [...]}."""
        async with connect(ctx) as api:
            created = await api.data(
                "POST", "/v1/renders/batch", json={"renders": renders}, headers=_idempotent(idempotency_key)
            )
        return {"renders": created}

    @server.tool(annotations=READ)
    @_answers
    async def get_render(ctx: Context, render_id: RenderId) -> dict[str, Any]:
        """A render: status, errorMessage, fileSize, and once done "assets", the links of its video,
        posters, thumbnail and bundle (download them with the same Bearer token)."""
        async with connect(ctx) as api:
            return await _render(api, render_id)

    @server.tool(annotations=READ)
    @_answers
    async def list_renders(
        ctx: Context,
        model_id: Annotated[str | None, Field(description="Only this model's renders")] = None,
        status: Annotated[str | None, Field(description="Only renders in this status")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> dict[str, Any]:
        """The caller's renders, newest first: {"renders": [...], "meta": {...}}."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if model_id:
            params["model"] = model_id
        if status:
            params["status"] = status
        async with connect(ctx) as api:
            body = await api.call("GET", "/v1/renders", params=params)
        return {"renders": body["data"], "meta": body["meta"]}

    @server.tool(annotations=READ)
    @_answers
    async def wait_for_render(
        ctx: Context,
        render_id: RenderId,
        timeout_s: Annotated[float, Field(gt=0, le=WAIT_MAX_S, description="Give up after this long")] = WAIT_DEFAULT_S,
    ) -> dict[str, Any]:
        """Wait until a render is done, error or failed, reporting each status as a progress
        notification (5 steps: pending .. done). Answers the render as get_render does, with
        "finished": false if timeout_s passed first (call again to keep waiting)."""
        deadline = time.monotonic() + timeout_s
        reported = 0
        async with connect(ctx) as api:
            while True:
                render = await _render(api, render_id)
                step = _step(render["status"])
                if step != reported:
                    reported = step
                    await ctx.report_progress(step, len(STEPS), render["status"])
                finished = render["status"] in FINISHED
                if finished or time.monotonic() >= deadline:
                    return {**render, "finished": finished}
                await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))

    return server
