"""Overlays and URL ingest in GraphQL: the same services as /v1/overlays and /v1/models/ingest."""

from __future__ import annotations

import enum
from typing import Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from dxgl.contract import MAX_OVERLAY_BYTES
from dxgl.schema.types import Deleted, UploadResult
from dxgl.schema.uploads import receive_upload
from dxgl.schema.vocabulary import AlignmentEnum, OverlayLayerEnum, RenderSettingsInput, settings_dict
from dxgl.services import models as model_service
from dxgl.services import overlays as overlay_service
from dxgl.tables import Overlay as OverlayRow
from dxgl.timeutil import iso


def _value(choice: Any) -> Any:
    """A GraphQL enum argument as the contract value the service takes (None stays None)."""
    return choice.value if isinstance(choice, enum.Enum) else choice


@strawberry.type(description="A reusable background or foreground image.")
class Overlay:
    id: strawberry.ID
    layer: OverlayLayerEnum
    alignment: AlignmentEnum = strawberry.field(description="Where it is placed when a render does not say.")
    name: str
    description: str
    system: bool = strawberry.field(description="Published for every account (only the server's admin deletes it).")
    width: int
    height: int
    created_at: str

    @classmethod
    def from_row(cls, row: OverlayRow) -> Overlay:
        return cls(
            id=strawberry.ID(row.id),
            layer=row.layer,
            alignment=row.alignment,
            name=row.name,
            description=row.description,
            system=row.account_id is None,
            width=row.width,
            height=row.height,
            created_at=iso(row.created_at) or "",
        )


@strawberry.type
class OverlayQuery:
    @strawberry.field(description="The caller's overlays plus the published system overlays (scope overlays:read).")
    async def overlays(self, info: Info, layer: OverlayLayerEnum | None = None) -> list[Overlay]:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            rows = await overlay_service.list_overlays(session, caller, layer=_value(layer))
            return [Overlay.from_row(o) for o in rows]


@strawberry.type
class OverlayMutation:
    @strawberry.mutation(description="Upload a PNG, JPEG or WebP overlay (max 10 MB; GraphQL multipart request spec).")
    async def upload_overlay(
        self,
        info: Info,
        file: Upload,
        layer: OverlayLayerEnum | None = None,
        name: str | None = None,
        description: str | None = None,
        alignment: AlignmentEnum | None = None,
    ) -> Overlay:
        ctx = info.context
        caller = await ctx.caller()
        overlay_service.authorize_upload(caller)  # before reading the file, as REST does
        uploaded = await receive_upload(ctx.runtime.storage, file, limit=MAX_OVERLAY_BYTES)
        async with ctx.unit_of_work() as session:
            row = await overlay_service.upload_overlay(
                session,
                caller,
                storage=ctx.runtime.storage,
                upload=uploaded,
                layer=_value(layer),
                name=name,
                description=description,
                alignment=_value(alignment),
            )
            return Overlay.from_row(row)

    @strawberry.mutation(description="Delete one of your overlays and its image.")
    async def delete_overlay(self, info: Info, id: strawberry.ID) -> Deleted:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            row = await overlay_service.delete_overlay(session, caller, str(id), storage=info.context.runtime.storage)
            return Deleted(id=strawberry.ID(row.id), deleted=True)

    @strawberry.mutation(description="Download a GLB/glTF from a public http(s) URL and create its first render.")
    async def ingest_model(
        self, info: Info, url: str | None = None, render_settings: RenderSettingsInput | None = None
    ) -> UploadResult:
        caller = await info.context.caller()
        rt = info.context.runtime
        async with info.context.unit_of_work() as session:
            result = await model_service.ingest_model(
                session,
                caller,
                intake=model_service.ModelIntake.of(rt.storage, rt.settings),
                url=url,
                raw_settings=settings_dict(render_settings),
            )
            return UploadResult.from_result(result)
