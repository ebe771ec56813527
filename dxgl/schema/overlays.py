"""Overlays and URL ingest in GraphQL: the same services as /v1/overlays and /v1/models/ingest."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from dxgl.contract import MAX_ENVIRONMENT_BYTES, MAX_OVERLAY_BYTES
from dxgl.schema.types import Deleted, IdempotencyKey, UploadResult
from dxgl.schema.uploads import receive_upload
from dxgl.schema.vocabulary import AlignmentEnum, OverlayLayerEnum, RenderSettingsInput, settings_dict
from dxgl.services import idempotency
from dxgl.services import models as model_service
from dxgl.services import overlays as overlay_service
from dxgl.tables import Overlay as OverlayRow
from dxgl.timeutil import iso


def _value(choice: Any) -> Any:
    """A GraphQL enum argument as the contract value the service takes (None stays None)."""
    return choice.value if isinstance(choice, enum.Enum) else choice


@strawberry.type(
    description="A reusable background or foreground image, or an environment (HDR) image that lights renders."
)
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

    def snapshot(self) -> dict[str, Any]:
        """JSON of this answer, to replay it (``idempotencyKey``)."""
        return {f.name: _value(getattr(self, f.name)) for f in dataclasses.fields(self) if f.init}

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
    @strawberry.mutation(
        description=(
            f"Upload a PNG, JPEG or WebP overlay (max {MAX_OVERLAY_BYTES >> 20} MB), or with layer ENVIRONMENT a "
            f"Radiance .hdr / OpenEXR .exr equirectangular image (max {MAX_ENVIRONMENT_BYTES >> 20} MB, "
            "8192x4096); GraphQL multipart request spec."
        )
    )
    async def upload_overlay(
        self,
        info: Info,
        file: Upload,
        layer: OverlayLayerEnum | None = None,
        name: str | None = None,
        description: str | None = None,
        alignment: AlignmentEnum | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Overlay:
        ctx = info.context
        caller = await ctx.caller()
        await ctx.limit_uploads(caller)
        overlay_service.authorize_upload(caller)  # before reading the file, as REST does
        idempotency.validate_key(idempotency_key)
        uploaded = await receive_upload(ctx.runtime.storage, file, limit=overlay_service.upload_limit(_value(layer)))
        fields = {"layer": _value(layer), "name": name, "description": description, "alignment": _value(alignment)}

        async def work(session: Any) -> dict[str, Any]:
            row = await overlay_service.upload_overlay(
                session, caller, storage=ctx.runtime.storage, upload=uploaded, **fields
            )
            return Overlay.from_row(row).snapshot()

        # The file by its SHA-256 and name, and the other arguments (as a multipart REST upload).
        arguments = {"sha256": uploaded.sha256, "filename": uploaded.filename, **fields}
        try:
            snapshot = await ctx.idempotent(idempotency_key, "uploadOverlay", arguments, work)
        finally:
            await uploaded.release()  # consumed by the service; a replay never used it
        return Overlay(**snapshot)

    @strawberry.mutation(description="Delete one of your overlays and its image.")
    async def delete_overlay(self, info: Info, id: strawberry.ID) -> Deleted:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            row = await overlay_service.delete_overlay(session, caller, str(id), storage=info.context.runtime.storage)
            return Deleted(id=strawberry.ID(row.id), deleted=True)

    @strawberry.mutation(description="Download a GLB/glTF from a public http(s) URL and create its first render.")
    async def ingest_model(
        self,
        info: Info,
        url: str | None = None,
        render_settings: RenderSettingsInput | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> UploadResult:
        ctx = info.context
        caller = await ctx.caller()
        await ctx.limit_uploads(caller)
        rt = ctx.runtime
        raw_settings = settings_dict(render_settings)

        async def work(session: Any) -> dict[str, Any]:
            result = await model_service.ingest_model(
                session,
                caller,
                intake=model_service.ModelIntake.of(rt.storage, rt.settings),
                url=url,
                raw_settings=raw_settings,
            )
            return UploadResult.snapshot_of(result)

        arguments = {"url": url, "renderSettings": raw_settings}
        return UploadResult.from_snapshot(await ctx.idempotent(idempotency_key, "ingestModel", arguments, work))
