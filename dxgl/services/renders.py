"""Renders: create (single and batch, all-or-nothing credits), the free system preview of an
upload, list, get, dismiss, delete.

A created render is committed as ``pending`` and its id is queued after the commit. A render of a
model marked broken (its system preview could not load or draw the file) is charged and failed with
its refund in the same transaction: it ends in ``error`` at once instead of running."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dxgl.contract import MAX_BATCH, ErrorCode, RenderStatus, Scope, auto_elevation, render_prefix
from dxgl.errors import DxglError
from dxgl.ids import is_id, new_id
from dxgl.services import credits, overlays, render_state, scoped
from dxgl.services.auth import Caller
from dxgl.services.pagination import Page, fetch_page
from dxgl.services.render_settings import (
    free_credits_may_pay,
    is_dataset,
    render_cost,
    system_preview_settings,
    validate_render_settings,
)
from dxgl.storage import Storage
from dxgl.tables import Account, Model3D, Render
from dxgl.uow import after_commit, enqueue_after_commit, publish_after_commit


async def ensure_affordable(session: AsyncSession, caller: Caller, settings: list[dict[str, Any]]) -> None:
    """A cheap early 402 before expensive work (the real charge is still the conditional update)."""
    account = await session.get_one(Account, caller.account_id)
    need = sum(render_cost(s) for s in settings)
    free_usable = sum(render_cost(s) for s in settings if free_credits_may_pay(s))
    if account.paid_credits + min(account.free_credits, free_usable) < need:
        raise DxglError(ErrorCode.NO_CREDITS, f"Not enough credits: this needs {need}")


async def create_renders(
    session: AsyncSession, caller: Caller, *, items: list[tuple[Model3D, Any]], batch: bool = False
) -> list[Render]:
    """Create one render per (model, raw settings), charge them all or none, queue them after commit.
    Renders of one model in a batch are queued together so the worker can share their frames.
    Scopes are checked by the callers (an upload needs only models:write)."""
    validated = await validate_items(session, caller, items, batch=batch)
    batch_id = new_id() if batch else None
    created = [
        Render(id=new_id(), account_id=caller.account_id, model_id=model.id, settings=settings, batch_id=batch_id)
        for model, settings in validated
    ]
    for render in created:
        session.add(render)
    await session.flush()
    await credits.charge(session, account_id=caller.account_id, renders=created)
    broken = {model.id: model.broken_reason for model, _ in validated if model.broken_reason}
    groups: dict[str, list[str]] = {}
    for render in created:
        if render.model_id in broken:
            await render_state.fail(session, render, render_state.broken_model_message(broken[render.model_id]))
            continue
        groups.setdefault(render.model_id, []).append(render.id)
        publish_after_commit(session, render)
    for ids in groups.values():
        enqueue_after_commit(session, ids)
    return created


async def validate_items(
    session: AsyncSession, caller: Caller, items: list[tuple[Model3D, Any]], *, batch: bool = False
) -> list[tuple[Model3D, dict[str, Any]]]:
    """Each (model, raw settings) with its settings validated and overlays resolved; in a batch an
    error names its item (``renders[i]: ...``). Creating and quoting check alike."""
    validated = []
    for index, (model, raw) in enumerate(items):
        try:
            settings = validate_render_settings(raw)
            await overlays.resolve_settings_overlays(session, caller, settings)
            record_elevation(settings, model)
            validated.append((model, settings))
        except DxglError as err:
            if batch:
                err.message = f"renders[{index}]: {err.message}"
            raise
    return validated


def model_elevation(model: Model3D) -> float | None:
    """The camera elevation dxgl chooses for ``model`` (``contract.auto_elevation``) from its
    inspection report's ``sizeMeters`` (x, y up, z: the glTF axes the renderer frames), or None
    when the model has no usable size (stored before inspection existed): the renderer then applies
    the same rule to the loaded model."""
    size = (model.inspection or {}).get("sizeMeters")
    if not isinstance(size, list) or len(size) != 3:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in size):
        return None
    width, height, depth = (float(v) for v in size)
    if max(width, depth) <= 0.0:
        return None
    return auto_elevation(width, height, depth)


def record_elevation(settings: dict[str, Any], model: Model3D) -> None:
    """A video render without ``elevation`` stores the value chosen from its model's shape, so its
    stored settings say how it was filmed (docs/api.md, "The look")."""
    if is_dataset(settings) or "elevation" in settings:
        return
    chosen = model_elevation(model)
    if chosen is not None:
        settings["elevation"] = chosen


async def single_item(session: AsyncSession, caller: Caller, model_id: Any) -> Model3D:
    """The model of a single render's body (``modelId``), or model_id_required / model_not_found."""
    if model_id is None or model_id == "":
        raise DxglError(ErrorCode.MODEL_ID_REQUIRED)
    return await scoped.live_model(session, caller.account_id, model_id)


async def batch_items(session: AsyncSession, caller: Caller, items: Any) -> list[tuple[Model3D, Any]]:
    """The (model, raw settings) pairs of a batch's ``renders`` list, checked in the documented
    order: present and non-empty, at most MAX_BATCH, each an object naming a live model."""
    if not isinstance(items, list) or not items:
        raise DxglError(ErrorCode.RENDERS_REQUIRED)
    if len(items) > MAX_BATCH:
        raise DxglError(ErrorCode.TOO_MANY, f"A batch holds at most {MAX_BATCH} renders; this one has {len(items)}")
    resolved = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise DxglError(ErrorCode.INVALID_REQUEST, f"renders[{index}] must be an object")
        if not item.get("modelId"):
            raise DxglError(ErrorCode.MODEL_ID_REQUIRED, f"renders[{index}].modelId is missing")
        model = await scoped.live_model(session, caller.account_id, item["modelId"])
        resolved.append((model, item.get("renderSettings")))
    return resolved


async def create_system_preview(session: AsyncSession, caller: Caller, *, model: Model3D) -> Render:
    """The free system preview of a new upload (docs/api.md, "System previews"): fixed settings
    (``render_settings.SYSTEM_PREVIEW_SETTINGS``), drawn small, no credits (no ledger row), no
    watermark, flagged ``is_system_preview``. Queued after the commit like any render; the job
    renders waiting previews before its own renders (``dxgl.jobs.render_job``), so call this
    before creating the upload's charged render and its id is also queued first."""
    settings = system_preview_settings()
    record_elevation(settings, model)
    render = Render(
        id=new_id(),
        account_id=caller.account_id,
        model_id=model.id,
        settings=settings,
        cost=0,
        watermark=False,
        is_system_preview=True,
    )
    session.add(render)
    await session.flush()
    enqueue_after_commit(session, [render.id])
    # Previews send no webhooks (when webhooks arrive, they skip is_system_preview renders); their
    # status events still go to the live status bus, like every render's.
    publish_after_commit(session, render)
    return render


async def create_render(session: AsyncSession, caller: Caller, *, model_id: Any, raw_settings: Any) -> Render:
    caller.require(Scope.RENDERS_WRITE)
    model = await single_item(session, caller, model_id)
    return (await create_renders(session, caller, items=[(model, raw_settings)]))[0]


async def create_batch(session: AsyncSession, caller: Caller, *, items: Any) -> list[Render]:
    caller.require(Scope.RENDERS_WRITE)
    resolved = await batch_items(session, caller, items)
    return await create_renders(session, caller, items=resolved, batch=True)


def authorize_watch(caller: Caller) -> None:
    """Watching render status (subscriptions) needs renders:read, checked before anything is read."""
    caller.require(Scope.RENDERS_READ)


async def get_render(session: AsyncSession, caller: Caller, render_id: Any) -> Render:
    caller.require(Scope.RENDERS_READ)
    return await scoped.account_render(session, caller.account_id, render_id)


def _status_filter(status: str) -> RenderStatus:
    try:
        return RenderStatus(status)
    except ValueError:
        known = ", ".join(RenderStatus)
        raise DxglError(ErrorCode.INVALID_REQUEST, f"status must be one of {known}") from None


async def list_renders(
    session: AsyncSession,
    caller: Caller,
    *,
    page: Page,
    model_id: str | None = None,
    status: str | None = None,
    system_preview: bool | None = None,
    with_total: bool = True,
) -> tuple[list[Render], int | None]:
    """The caller's renders, newest first. ``system_preview``: None lists every render (previews
    flagged), False leaves the system previews out, True lists only them."""
    caller.require(Scope.RENDERS_READ)
    where = scoped.account_renders(caller.account_id)
    if model_id:
        if not is_id(model_id):
            return [], 0 if with_total else None
        where.append(col(Render.model_id) == model_id)
    if status:
        where.append(col(Render.status) == _status_filter(status))
    if system_preview is not None:
        where.append(col(Render.is_system_preview) == system_preview)
    return await fetch_page(session, Render, where, page, with_total=with_total)


async def dismiss_render(session: AsyncSession, caller: Caller, render_id: str) -> Render:
    """``error`` -> ``failed``; any other status is left alone and answered 409 invalid_state."""
    caller.require(Scope.RENDERS_WRITE)
    render = await scoped.account_render(session, caller.account_id, render_id)
    await render_state.dismiss(session, render)
    return render


async def delete_render(session: AsyncSession, caller: Caller, render_id: str, *, storage: Storage) -> Render:
    """Delete the render and its files (video, poster, thumbnail, ...) once the deletion commits.
    A render deleted before it finished is refunded once (``render_state.delete``; docs/credits.md);
    a system preview is deleted like any render, with nothing to refund (nothing was charged)."""
    caller.require(Scope.RENDERS_WRITE)
    render = await scoped.account_render(session, caller.account_id, render_id)
    await render_state.delete(session, render)
    prefix = render_prefix(render.id)
    after_commit(session, lambda: storage.delete_prefix(prefix))
    return render
