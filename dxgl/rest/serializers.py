"""The documented JSON shapes of the /v1 API (dxgl-public-api.md), field for field."""

from __future__ import annotations

from typing import Any

from dxgl.events import model_event, render_event
from dxgl.tables import Account, Model3D, Render

# The documented model fields (dxgl.events holds the one definition: webhooks send it too).
model_json = model_event


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
