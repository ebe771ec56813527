"""GraphQL object types. They mirror the REST JSON field for field (camelCase, ISO-8601 UTC
timestamps as strings like ``2026-02-15T20:00:00.000Z``) and are built from plain values, never
from live ORM rows, so nothing is lazily loaded after a unit of work has closed."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from dxgl.events import render_event
from dxgl.schema.vocabulary import RenderSettings, RenderSettingsInput, RenderStatusEnum, render_settings_of
from dxgl.services.tokens import token_scopes
from dxgl.tables import Account as AccountRow
from dxgl.tables import ApiToken as ApiTokenRow
from dxgl.tables import LedgerEntry as LedgerRow
from dxgl.tables import Model3D
from dxgl.tables import Render as RenderRow
from dxgl.timeutil import iso

# The argument every creating mutation takes (docs/api.md, "Idempotent requests").
IdempotencyKey = Annotated[
    str | None,
    strawberry.argument(
        description="Retry safely: the same key with the same arguments within 24 h returns the first result "
        "without doing the work again; with other arguments it is the error idempotency_conflict. Per account; "
        "1-255 visible ASCII characters (a UUID)."
    ),
]


@strawberry.type(description="The caller's account and credit balance.")
class Account:
    id: strawberry.ID
    email: str
    credits: int = strawberry.field(description="Paid and free credits together.")
    paid_credits: int
    free_credits: int

    @classmethod
    def from_row(cls, row: AccountRow) -> Account:
        return cls(
            id=strawberry.ID(row.id),
            email=row.email,
            credits=row.paid_credits + row.free_credits,
            paid_credits=row.paid_credits,
            free_credits=row.free_credits,
        )


@strawberry.type(description="One render of a model: a video, or a dataset.")
class Render:
    id: strawberry.ID
    model_id: strawberry.ID
    status: RenderStatusEnum
    render_settings: RenderSettings = strawberry.field(description="The stored settings, every default filled in.")
    file_size: int | None
    error_message: str | None
    has_web_variant: bool
    is_system_preview: bool = strawberry.field(
        description="The free system preview every upload makes (no credits, no watermark)."
    )
    created_at: str
    updated_at: str

    @strawberry.field(description="The model this render belongs to; null once the model is deleted.")
    async def model(self, info: Info) -> Model | None:
        row = await info.context.loaders.model_by_id.load(str(self.model_id))
        return Model.from_row(row) if row is not None else None

    @classmethod
    def from_row(cls, row: RenderRow) -> Render:
        return cls.from_event(render_event(row))

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> Render:
        """From a render dict (``dxgl.events.render_event``: the same fields as the REST JSON)."""
        return cls(
            id=strawberry.ID(data["id"]),
            model_id=strawberry.ID(data["modelId"]),
            status=data["status"],
            render_settings=render_settings_of(data.get("renderSettings")),
            file_size=data.get("fileSize"),
            error_message=data.get("errorMessage"),
            has_web_variant=bool(data.get("hasWebVariant")),
            is_system_preview=bool(data.get("isSystemPreview")),
            created_at=data.get("createdAt") or "",
            updated_at=data.get("updatedAt") or "",
        )


@strawberry.type(description="One texture of a model, as decoded at upload.")
class TextureInfo:
    width: int
    height: int
    format: str = strawberry.field(description="The image format, e.g. png, jpeg, webp, ktx2.")


def _ints(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


@strawberry.type(description="What ingest found in the model file at upload (docs/ingest.md).")
class ModelInspection:
    triangles: int
    vertices: int
    meshes: int
    materials: int
    textures: list[TextureInfo]
    extensions_used: list[str]
    extensions_required: list[str]
    size_meters: list[float] = strawberry.field(description="The model's extent along x, y and z, in metres.")
    has_uvs: bool = strawberry.field(name="hasUVs")
    has_normals: bool
    has_vertex_colors: bool
    animations_ignored: int = strawberry.field(description="Animations in the file (dxgl renders none).")
    warnings: list[str]

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> ModelInspection:
        return cls(**{**data, "textures": [TextureInfo(**t) for t in data["textures"]]})

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> ModelInspection:
        """From the stored report (``Model3D.inspection``; the REST ``inspection`` object)."""
        textures = report.get("textures")
        size = report.get("sizeMeters")
        return cls(
            triangles=_ints(report.get("triangles")),
            vertices=_ints(report.get("vertices")),
            meshes=_ints(report.get("meshes")),
            materials=_ints(report.get("materials")),
            textures=[
                TextureInfo(width=_ints(t.get("width")), height=_ints(t.get("height")), format=str(t.get("format", "")))
                for t in (textures if isinstance(textures, list) else [])
                if isinstance(t, dict)
            ],
            extensions_used=_strings(report.get("extensionsUsed")),
            extensions_required=_strings(report.get("extensionsRequired")),
            size_meters=[float(v) for v in size] if isinstance(size, list) else [],
            has_uvs=bool(report.get("hasUVs")),
            has_normals=bool(report.get("hasNormals")),
            has_vertex_colors=bool(report.get("hasVertexColors")),
            animations_ignored=_ints(report.get("animationsIgnored")),
            warnings=_strings(report.get("warnings")),
        )


@strawberry.type(description="An uploaded 3D model, stored as one GLB.")
class Model:
    id: strawberry.ID
    original_name: str
    title: str | None
    sku: str | None
    tags: list[str]
    file_size: int
    sha256: str
    created_at: str
    archived: bool
    warnings: list[str] = strawberry.field(description="What a scan conversion could not do (e.g. a missing texture).")
    broken: bool = strawberry.field(
        description="The system preview could not load or draw the file: new renders end in error, refunded."
    )
    broken_reason: str | None = strawberry.field(description="Why the model is broken; null when it is not.")
    inspection: ModelInspection | None = strawberry.field(
        description="The inspection report made at upload; null for models stored before reports existed."
    )

    @strawberry.field(description="Every render of this model, newest first.")
    async def renders(self, info: Info) -> list[Render]:
        rows = await info.context.loaders.renders_by_model.load(str(self.id))
        return [Render.from_event(r) for r in rows]

    def snapshot(self) -> dict[str, Any]:
        """JSON of this answer, to replay it (``idempotencyKey``): the stored fields (not the resolvers)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        data["inspection"] = dataclasses.asdict(self.inspection) if self.inspection is not None else None
        return data

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> Model:
        inspection = data.get("inspection")
        return cls(**{**data, "inspection": ModelInspection.from_snapshot(inspection) if inspection else None})

    @classmethod
    def from_row(cls, row: Model3D) -> Model:
        return cls(
            id=strawberry.ID(row.id),
            original_name=row.original_name,
            title=row.title,
            sku=row.sku,
            tags=list(row.tags),
            file_size=row.file_size,
            sha256=row.sha256,
            created_at=iso(row.created_at) or "",
            archived=row.archived_at is not None,
            warnings=list(row.warnings),
            broken=row.broken_reason is not None,
            broken_reason=row.broken_reason,
            inspection=ModelInspection.from_report(row.inspection) if row.inspection else None,
        )


@strawberry.type(description="One page of models (offset pagination, like REST's meta).")
class ModelPage:
    items: list[Model]
    limit: int
    offset: int
    total_count: int = strawberry.field(
        description="All models matching the filter (computed only when this field is selected)."
    )


@strawberry.type(description="One page of renders (offset pagination, like REST's meta).")
class RenderPage:
    items: list[Render]
    limit: int
    offset: int
    total_count: int = strawberry.field(
        description="All renders matching the filter (computed only when this field is selected)."
    )


@strawberry.type(description="The answer to uploadModel.")
class UploadResult:
    model: Model
    render: Render
    duplicate: bool = strawberry.field(
        description="True when this account already had the file: a new render on the existing model."
    )
    system_preview: Render | None = strawberry.field(
        description="The free system preview of a new model; null for a duplicate or when previews are off."
    )

    @staticmethod
    def snapshot_of(result: Any) -> dict[str, Any]:
        """JSON of ``services.models.UploadResult``, to replay it (``idempotencyKey``)."""
        return {
            "model": Model.from_row(result.model).snapshot(),
            "render": render_event(result.render),
            "duplicate": result.duplicate,
            "preview": render_event(result.preview) if result.preview is not None else None,
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> UploadResult:
        preview = data.get("preview")
        return cls(
            model=Model.from_snapshot(data["model"]),
            render=Render.from_event(data["render"]),
            duplicate=bool(data["duplicate"]),
            system_preview=Render.from_event(preview) if preview else None,
        )

    @classmethod
    def from_result(cls, result: Any) -> UploadResult:
        """From ``services.models.UploadResult``."""
        return cls(
            model=Model.from_row(result.model),
            render=Render.from_row(result.render),
            duplicate=result.duplicate,
            system_preview=Render.from_row(result.preview) if result.preview is not None else None,
        )


@strawberry.type(description="The answer to a delete.")
class Deleted:
    id: strawberry.ID
    deleted: bool


@strawberry.input(description="One render of a batch.")
class RenderRequest:
    # Nullable so that a missing id is answered with model_id_required, as in REST.
    model_id: strawberry.ID | None = None
    render_settings: RenderSettingsInput | None = None


@strawberry.type(description="One movement of the account's credits (grant, charge or refund).")
class LedgerEntry:
    id: strawberry.ID
    kind: str = strawberry.field(description="grant (credits added), charge (a render paid) or refund (given back).")
    paid_delta: int = strawberry.field(description="Change of the paid credits: negative for a charge.")
    free_delta: int = strawberry.field(description="Change of the free credits: negative for a charge.")
    render_id: strawberry.ID | None = strawberry.field(description="The render charged or refunded; null for a grant.")
    note: str
    created_at: str

    @classmethod
    def from_row(cls, row: LedgerRow) -> LedgerEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            paid_delta=row.paid_delta,
            free_delta=row.free_delta,
            render_id=strawberry.ID(row.render_id) if row.render_id else None,
            note=row.note,
            created_at=iso(row.created_at) or "",
        )


@strawberry.type(description="One page of the credit ledger, newest first (offset pagination).")
class LedgerPage:
    items: list[LedgerEntry]
    limit: int
    offset: int
    total_count: int = strawberry.field(description="All entries of the account (computed only when selected).")


@strawberry.type(description="An API token of the account. The raw token is shown once, by createApiToken.")
class ApiToken:
    id: strawberry.ID
    prefix: str = strawberry.field(description="The token's first characters (dxgl_sk_ + 8), to recognise it.")
    scopes: list[str]
    created_at: str
    expires_at: str | None = strawberry.field(description="Null: never expires.")
    revoked_at: str | None = strawberry.field(description="Null: not revoked.")

    @classmethod
    def from_row(cls, row: ApiTokenRow) -> ApiToken:
        return cls(
            id=strawberry.ID(row.id),
            prefix=row.prefix,
            scopes=token_scopes(row),
            created_at=iso(row.created_at) or "",
            expires_at=iso(row.expires_at),
            revoked_at=iso(row.revoked_at),
        )


@strawberry.type(description="The answer to createApiToken: the new token, and its raw value (shown this once).")
class CreatedApiToken:
    token: ApiToken
    raw_token: str = strawberry.field(
        description="Send it as 'Authorization: Bearer <rawToken>'. Only its hash is stored: it cannot be read again."
    )


@strawberry.type(description="One render of a quote: its price and which credits would pay for it.")
class QuoteItem:
    model_id: strawberry.ID
    credits: int
    paid_by: str = strawberry.field(description='"paid" or "free": the credits that would pay for this render.')
    watermark: bool = strawberry.field(description="True when free credits pay for a video (a PREVIEW watermark).")


@strawberry.type(description="The account's credits now.")
class CreditBalance:
    paid: int
    free: int


@strawberry.type(description="What creating these renders would charge (nothing is created); REST POST /v1/quote.")
class Quote:
    credits: int = strawberry.field(description="The total price.")
    items: list[QuoteItem]
    balance: CreditBalance
    sufficient: bool = strawberry.field(description="Whether the balance covers it (else creating is no_credits).")

    @classmethod
    def from_quote(cls, quote: Any) -> Quote:
        """From ``services.quote.Quote``."""
        return cls(
            credits=quote.credits,
            items=[
                QuoteItem(
                    model_id=strawberry.ID(i.model_id), credits=i.credits, paid_by=i.paid_by, watermark=i.watermark
                )
                for i in quote.items
            ],
            balance=CreditBalance(paid=quote.paid, free=quote.free),
            sufficient=quote.sufficient,
        )
