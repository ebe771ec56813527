"""Mutations: every write, each in one unit of work exactly like the REST handlers (commit at the
boundary, renders queued after the commit). Rules live in the services; this only translates.
The creating mutations take ``idempotencyKey`` (``DxglContext.idempotent``; docs/api.md)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from dxgl.events import render_event
from dxgl.schema.types import (
    ApiToken,
    CreatedApiToken,
    Deleted,
    IdempotencyKey,
    Model,
    Render,
    RenderRequest,
    UploadResult,
)
from dxgl.schema.uploads import receive_upload
from dxgl.schema.vocabulary import RenderSettingsInput, settings_dict
from dxgl.services import models as model_service
from dxgl.services import renders as render_service
from dxgl.services import tokens as token_service


def _changes(**fields: Any) -> dict[str, Any]:
    """Only the arguments the client gave (an explicit null is given: it clears the field)."""
    return {name: value for name, value in fields.items() if value is not strawberry.UNSET}


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Upload a GLB/glTF (GraphQL multipart request spec) and create its first render. "
        "A file the account already has adds a render to the existing model (duplicate: true)."
    )
    async def upload_model(
        self,
        info: Info,
        file: Upload,
        render_settings: RenderSettingsInput | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> UploadResult:
        ctx = info.context
        rt = ctx.runtime
        caller = await ctx.caller()
        await ctx.limit_uploads(caller)
        model_service.authorize_upload(caller)  # before reading the file, as REST does
        uploaded = await receive_upload(rt.storage, file, limit=rt.settings.upload_limit_bytes)
        raw_settings = settings_dict(render_settings)
        # "The same request" is the same file (its SHA-256), name and settings, as for REST uploads.
        arguments = {"sha256": uploaded.sha256, "filename": uploaded.filename, "renderSettings": raw_settings}

        async def work(session: Any) -> dict[str, Any]:
            result = await model_service.upload_model(
                session,
                caller,
                intake=model_service.ModelIntake.of(rt.storage, rt.settings),
                upload=uploaded,
                raw_settings=raw_settings,
            )
            return UploadResult.snapshot_of(result)

        try:
            return UploadResult.from_snapshot(await ctx.idempotent(idempotency_key, "uploadModel", arguments, work))
        finally:
            await uploaded.release()  # a replay never reaches the service, which consumes it otherwise

    @strawberry.mutation(description="Change title, sku and/or tags; arguments left out stay as they are.")
    async def update_model(
        self,
        info: Info,
        id: strawberry.ID,
        title: str | None = strawberry.UNSET,
        sku: str | None = strawberry.UNSET,
        tags: list[str] | None = strawberry.UNSET,
    ) -> Model:
        async with info.context.unit_of_work() as session:
            caller = await info.context.caller()
            row = await model_service.update_model(
                session, caller, str(id), changes=_changes(title=title, sku=sku, tags=tags)
            )
            return Model.from_row(row)

    @strawberry.mutation(description="Hide a model from the default models list.")
    async def archive_model(self, info: Info, id: strawberry.ID) -> Model:
        async with info.context.unit_of_work() as session:
            caller = await info.context.caller()
            return Model.from_row(await model_service.set_archived(session, caller, str(id), archived=True))

    @strawberry.mutation(description="Show an archived model in the default models list again.")
    async def unarchive_model(self, info: Info, id: strawberry.ID) -> Model:
        async with info.context.unit_of_work() as session:
            caller = await info.context.caller()
            return Model.from_row(await model_service.set_archived(session, caller, str(id), archived=False))

    @strawberry.mutation(description="Delete a model (its renders stay reachable).")
    async def delete_model(self, info: Info, id: strawberry.ID) -> Deleted:
        async with info.context.unit_of_work() as session:
            caller = await info.context.caller()
            row = await model_service.delete_model(session, caller, str(id))
            return Deleted(id=strawberry.ID(row.id), deleted=True)

    @strawberry.mutation(description="Create one render of a model; credits are charged now.")
    async def create_render(
        self,
        info: Info,
        model_id: strawberry.ID | None = None,
        render_settings: RenderSettingsInput | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Render:
        ctx = info.context
        raw_settings = settings_dict(render_settings)
        caller = await ctx.caller()

        async def work(session: Any) -> dict[str, Any]:
            row = await render_service.create_render(session, caller, model_id=model_id, raw_settings=raw_settings)
            return render_event(row)

        arguments = {"modelId": model_id, "renderSettings": raw_settings}
        return Render.from_event(await ctx.idempotent(idempotency_key, "createRender", arguments, work))

    @strawberry.mutation(description="Create up to 100 renders at once: all are charged, or none.")
    async def create_render_batch(
        self, info: Info, renders: list[RenderRequest] | None = None, idempotency_key: IdempotencyKey = None
    ) -> list[Render]:
        ctx = info.context
        items = (
            None
            if renders is None
            else [{"modelId": r.model_id, "renderSettings": settings_dict(r.render_settings)} for r in renders]
        )
        caller = await ctx.caller()

        async def work(session: Any) -> list[dict[str, Any]]:
            return [render_event(r) for r in await render_service.create_batch(session, caller, items=items)]

        events = await ctx.idempotent(idempotency_key, "createRenderBatch", {"renders": items}, work)
        return [Render.from_event(e) for e in events]

    @strawberry.mutation(description="Acknowledge a render in status error: it becomes failed.")
    async def dismiss_render(self, info: Info, id: strawberry.ID) -> Render:
        async with info.context.unit_of_work() as session:
            caller = await info.context.caller()
            return Render.from_row(await render_service.dismiss_render(session, caller, str(id)))

    @strawberry.mutation(description="Delete a render and its files.")
    async def delete_render(self, info: Info, id: strawberry.ID) -> Deleted:
        async with info.context.unit_of_work() as session:
            caller = await info.context.caller()
            row = await render_service.delete_render(session, caller, str(id), storage=info.context.runtime.storage)
            return Deleted(id=strawberry.ID(row.id), deleted=True)

    @strawberry.mutation(
        description="Create an API token of your account (a portal session, or a token with tokens:write). Its "
        "scopes must be among yours. The raw token is answered this once; only its hash is stored."
    )
    async def create_api_token(
        self, info: Info, scopes: list[str], expires_in_seconds: int | None = None
    ) -> CreatedApiToken:
        async with info.context.unit_of_work() as session:
            caller = await info.context.caller()
            row, raw = await token_service.create_token(
                session, caller, scopes=scopes, expires_in_seconds=expires_in_seconds
            )
            return CreatedApiToken(token=ApiToken.from_row(row), raw_token=raw)

    @strawberry.mutation(
        description="Revoke one of your account's API tokens: it is refused (401) from now on. Revoking it "
        "again changes nothing."
    )
    async def revoke_api_token(self, info: Info, id: strawberry.ID) -> ApiToken:
        async with info.context.unit_of_work() as session:
            caller = await info.context.caller()
            return ApiToken.from_row(await token_service.revoke_token(session, caller, str(id)))
