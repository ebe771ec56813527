"""The documented JSON shapes of the /v1 API (dxgl-public-api.md), field for field."""

from __future__ import annotations

from typing import Any

from dxgl.events import render_event
from dxgl.tables import Account, Model3D, Render
from dxgl.timeutil import iso


def model_json(model: Model3D) -> dict[str, Any]:
    """The documented model fields, and (dxgl's extension, docs/api.md) ``broken`` /
    ``brokenReason``: the system preview could not load or draw the file."""
    return {
        "id": model.id,
        "originalName": model.original_name,
        "title": model.title,
        "sku": model.sku,
        "tags": list(model.tags),
        "fileSize": model.file_size,
        "sha256": model.sha256,
        "createdAt": iso(model.created_at),
        "broken": model.broken_reason is not None,
        "brokenReason": model.broken_reason,
    }


# The fields of a render inside a model's detail (a subset of the render JSON).
RENDER_SUMMARY_FIELDS = ("id", "status", "renderSettings", "isSystemPreview", "createdAt", "updatedAt")


def model_detail_json(model: Model3D, renders: list[Render]) -> dict[str, Any]:
    return {
        **model_json(model),
        # Beyond the document: what a scan conversion could not do (e.g. a missing texture).
        "warnings": list(model.warnings),
        # Beyond the document: the inspection report made at upload (docs/ingest.md); null for
        # models stored before reports existed.
        "inspection": dict(model.inspection) if model.inspection else None,
        "renders": [{k: v for k, v in render_event(r).items() if k in RENDER_SUMMARY_FIELDS} for r in renders],
    }


# The render's documented fields are also the payload of status events: one definition.
render_json = render_event


def render_created_json(render: Render) -> dict[str, Any]:
    return {"id": render.id, "modelId": render.model_id, "status": render.status, "renderSettings": render.settings}


def batch_item_json(render: Render) -> dict[str, Any]:
    return {"id": render.id, "modelId": render.model_id, "status": render.status}


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "credits": account.paid_credits + account.free_credits,
        "paidCredits": account.paid_credits,
        "freeCredits": account.free_credits,
    }
