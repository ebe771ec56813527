"""Models: upload (with dedup within the caller's account), list, get, update, archive, delete,
file download and the dedup pre-flight. Every query is scoped to the caller's account."""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import delete, exists, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dxgl.config import Settings
from dxgl.contract import ErrorCode, Scope, decoded_model_key, model_key
from dxgl.errors import DxglError
from dxgl.ids import is_id, new_id
from dxgl.ingest import fetch_url
from dxgl.services import json_input, model_files, renders, scoped, webhooks
from dxgl.services.assets import render_source_key
from dxgl.services.auth import Caller
from dxgl.services.pagination import Page, fetch_page
from dxgl.services.render_settings import validate_render_settings
from dxgl.services.uploads import UploadedFile, require_content
from dxgl.storage import Storage
from dxgl.tables import Account, Model3D, ModelTag, Render
from dxgl.timeutil import utcnow
from dxgl.uow import on_rollback

MAX_TAGS = 20
MAX_TAG_LEN = 64
MAX_TEXT_LEN = 255
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class ModelIntake:
    """Where new model files go, and the deployment's limits on them (``DXGL_*`` settings)."""

    storage: Storage
    free_upload_limit: int
    limit_bytes: int
    ingest_timeout_s: float
    ingest_allow_private: bool
    texture_budget_mpx: float
    system_preview: bool = True  # DXGL_SYSTEM_PREVIEW: a new model gets a free system preview

    @classmethod
    def of(cls, storage: Storage, settings: Settings) -> ModelIntake:
        return cls(
            storage=storage,
            free_upload_limit=settings.free_upload_limit,
            limit_bytes=settings.upload_limit_bytes,
            ingest_timeout_s=settings.ingest_timeout_seconds,
            ingest_allow_private=settings.ingest_allow_private,
            texture_budget_mpx=settings.texture_budget_mpx,
            system_preview=settings.system_preview,
        )


@dataclass
class UploadResult:
    model: Model3D
    render: Render  # the documented first render (charged)
    duplicate: bool
    preview: Render | None = None  # the free system preview of a new model (None: duplicate, or off)


def parse_settings_field(raw: Any) -> Any:
    """``renderSettings`` arrives as a JSON string in multipart uploads, or as an object."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        return json_input.loads(raw, what="renderSettings", code=ErrorCode.INVALID_SETTINGS)
    json_input.check_tree(raw, what="renderSettings", code=ErrorCode.INVALID_SETTINGS)
    return raw


async def _check_upload_cap(session: AsyncSession, account: Account, limit: int) -> None:
    """Accounts that never had paid credits may upload ``limit`` models (deleted ones count)."""
    if account.ever_paid:
        return
    count = (await session.execute(select(func.count()).where(col(Model3D.account_id) == account.id))).scalar_one()
    if count >= limit:
        raise DxglError(
            ErrorCode.UPLOAD_LIMIT,
            f"Accounts with only free credits may upload {limit} models; add credits to upload more",
        )


def authorize_upload(caller: Caller) -> None:
    """An upload or URL ingest needs models:write (its first render comes with it), checked before
    the body is read."""
    caller.require(Scope.MODELS_WRITE)


async def upload_model(
    session: AsyncSession,
    caller: Caller,
    *,
    intake: ModelIntake,
    upload: UploadedFile,
    raw_settings: Any = None,
) -> UploadResult:
    """Store an uploaded model and create its first render. A file this account already has (same
    SHA-256, not deleted) gets a new render on the existing model instead (``duplicate``).
    The temporary upload is always consumed.

    A new model stores its model file at ``model_key`` and, when ingest decoded it into a different
    GLB, the decoded copy at ``decoded_model_key`` (what renders load: ``assets.render_source_key``),
    with the inspection report on the row; both files go again if the transaction rolls back. With
    ``intake.system_preview`` it also gets its free system preview (queued before its first render).

    The file is validated and converted before the first database statement, so no transaction
    (on SQLite: no write lock) stays open while a child process parses it."""
    prepared: model_files.PreparedFile | None = None
    try:
        authorize_upload(caller)
        require_content(upload)
        settings_raw = parse_settings_field(raw_settings)
        # checked before the expensive parse; create_renders checks again with overlays resolved
        settings = validate_render_settings(settings_raw)
        prepared = await asyncio.to_thread(
            model_files.prepare, intake.storage, upload, texture_budget_mpx=intake.texture_budget_mpx
        )
        existing = await scoped.live_model_by_hash(session, caller.account_id, upload.sha256)
        if existing is not None:
            return await _duplicate(session, caller, existing, settings_raw)
        account = await session.get_one(Account, caller.account_id)
        await _check_upload_cap(session, account, intake.free_upload_limit)
        await renders.ensure_affordable(session, caller, [settings])
        model = Model3D(
            id=new_id(),
            account_id=caller.account_id,
            original_name=_CONTROL.sub("", Path(upload.filename or "model.glb").name)[:MAX_TEXT_LEN],
            sha256=upload.sha256.lower(),
            file_size=prepared.glb_path.stat().st_size,
            storage_key="",
            source_kind=prepared.source_kind,
            warnings=list(prepared.warnings),
            inspection=dict(prepared.inspection),
        )
        model.storage_key = model_key(caller.account_id, model.id)
        if prepared.decoded_path is not None:
            model.decoded_key = decoded_model_key(caller.account_id, model.id)
        try:
            async with session.begin_nested():
                session.add(model)
                await session.flush()
        except IntegrityError:
            # A concurrent upload of the same file won the race: this one becomes its duplicate.
            existing = await scoped.live_model_by_hash(session, caller.account_id, upload.sha256)
            if existing is None:
                raise
            return await _duplicate(session, caller, existing, settings_raw)
        await webhooks.model_created(session, model)
        # The preview first: its id is queued before the first render's (docs/api.md, "System previews").
        preview = await renders.create_system_preview(session, caller, model=model) if intake.system_preview else None
        render = await renders.create_renders(session, caller, items=[(model, settings_raw)])
        await _publish_files(session, intake.storage, prepared, upload, model)
        return UploadResult(model, render[0], duplicate=False, preview=preview)
    finally:
        await upload.release()
        if prepared is not None:
            prepared.discard()


async def _publish_files(
    session: AsyncSession,
    storage: Storage,
    prepared: model_files.PreparedFile,
    upload: UploadedFile,
    model: Model3D,
) -> None:
    """Publish the model file (and the decoded copy, when there is one) under the model's keys;
    each is removed again if the transaction does not commit. On an object store a GLB upload is
    copied inside the server from the temporary object it streamed into; anything else is uploaded
    from the scratch folder (in a thread: a multipart upload, never the whole file in memory)."""
    files = [(prepared.glb_path, model.storage_key)]
    if prepared.decoded_path is not None and model.decoded_key:
        files.append((prepared.decoded_path, model.decoded_key))
    for path, key in files:
        on_rollback(session, partial(storage.delete, key))
        if key == model.storage_key and prepared.glb_is_upload and upload.staged_key:
            await asyncio.to_thread(storage.copy, upload.staged_key, key)
        else:
            await asyncio.to_thread(storage.publish, path, key)


async def _duplicate(session: AsyncSession, caller: Caller, model: Model3D, raw: Any) -> UploadResult:
    render = await renders.create_renders(session, caller, items=[(model, raw)])
    return UploadResult(model, render[0], duplicate=True)


async def ingest_model(
    session: AsyncSession,
    caller: Caller,
    *,
    intake: ModelIntake,
    url: Any,
    raw_settings: Any = None,
) -> UploadResult:
    """Download a GLB/glTF from ``url`` (public addresses only unless the server allows private
    ones), then store it exactly like an upload. The download happens before any database work."""
    authorize_upload(caller)
    if url is None or url == "":
        raise DxglError(ErrorCode.URL_REQUIRED, "Missing url field")
    if not isinstance(url, str) or len(url) > 2048:
        raise DxglError(ErrorCode.INVALID_URL, "url must be an http(s) URL of at most 2048 characters")
    validate_render_settings(parse_settings_field(raw_settings))  # fail before downloading
    dest = intake.storage.temp_dir()
    try:
        fetched = await fetch_url(
            url,
            dest,
            limit_bytes=intake.limit_bytes,
            timeout_s=intake.ingest_timeout_s,
            allow_private=intake.ingest_allow_private,
        )
        staged = intake.storage.temp_path(".upload")
        fetched.path.replace(staged)
        upload = UploadedFile(staged, fetched.size, fetched.sha256, fetched.filename or "model.glb")
        return await upload_model(session, caller, intake=intake, upload=upload, raw_settings=raw_settings)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


async def list_models(
    session: AsyncSession,
    caller: Caller,
    *,
    page: Page,
    tags: list[str] | None = None,
    archived: bool = False,
    search: Any = None,
    with_total: bool = True,
) -> tuple[list[Model3D], int | None]:
    """The caller's live models, newest first. ``tags`` is an OR filter; ``archived=True`` lists
    only archived models (they are hidden from the default list). ``search`` keeps the models whose
    title, SKU or original file name holds it (case-insensitive substring; ``%`` and ``_`` are
    literal). ``with_total=False`` skips the count query (GraphQL asks for it only when
    ``totalCount`` is selected)."""
    caller.require(Scope.MODELS_READ)
    where = scoped.live_models(caller.account_id)
    archived_at = col(Model3D.archived_at)
    where.append(archived_at.is_not(None) if archived else archived_at.is_(None))
    if tags:
        wanted = [normalise_tag(t) for t in tags]
        where.append(exists().where(col(ModelTag.model_id) == col(Model3D.id), col(ModelTag.tag).in_(wanted)))
    text = _search_text(search)
    if text:
        pattern = "%" + _LIKE_SPECIAL.sub(r"\\\g<0>", text) + "%"
        columns = (col(Model3D.title), col(Model3D.sku), col(Model3D.original_name))
        where.append(or_(*(column.ilike(pattern, escape="\\") for column in columns)))
    return await fetch_page(session, Model3D, where, page, with_total=with_total)


MAX_SEARCH_LEN = 200
_LIKE_SPECIAL = re.compile(r"[\\%_]")


def _search_text(search: Any) -> str:
    """The ``search`` filter, trimmed ("" = no filter); at most ``MAX_SEARCH_LEN`` characters of text."""
    if search is None:
        return ""
    if not isinstance(search, str):
        raise DxglError(ErrorCode.INVALID_REQUEST, "search must be a string")
    text = search.strip()
    if len(text) > MAX_SEARCH_LEN:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"search is at most {MAX_SEARCH_LEN} characters")
    if _CONTROL.search(text) or not json_input.is_text(text):
        raise DxglError(ErrorCode.INVALID_REQUEST, "search cannot hold control characters or lone surrogates")
    return text


async def models_by_ids(session: AsyncSession, caller: Caller, ids: list[str]) -> dict[str, Model3D]:
    """The caller's live models among ``ids``, in one query (for dataloaders)."""
    caller.require(Scope.MODELS_READ)
    ids = [i for i in ids if is_id(i)]
    if not ids:
        return {}
    rows = (
        await session.execute(select(Model3D).where(*scoped.live_models(caller.account_id), col(Model3D.id).in_(ids)))
    ).scalars()
    return {m.id: m for m in rows}


async def get_model(session: AsyncSession, caller: Caller, model_id: str) -> Model3D:
    caller.require(Scope.MODELS_READ)
    return await scoped.live_model(session, caller.account_id, model_id)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalise_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag.strip():
        raise DxglError(ErrorCode.INVALID_REQUEST, "tags must be non-empty strings")
    if _CONTROL.search(tag) or not json_input.is_text(tag):
        raise DxglError(ErrorCode.INVALID_REQUEST, "tags cannot hold control characters or lone surrogates")
    normalised = tag.strip().lower()
    if len(normalised) > MAX_TAG_LEN:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"a tag is at most {MAX_TAG_LEN} characters")
    return normalised


def _text_field(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT_LEN or _CONTROL.search(value):
        raise DxglError(
            ErrorCode.INVALID_REQUEST,
            f"{name} must be a string of at most {MAX_TEXT_LEN} characters, without control characters",
        )
    if not json_input.is_text(value):
        raise DxglError(ErrorCode.INVALID_REQUEST, f"{name} is not valid Unicode text (it holds a lone surrogate)")
    return value


async def update_model(session: AsyncSession, caller: Caller, model_id: str, *, changes: Any) -> Model3D:
    """Apply ``title``, ``sku`` and ``tags`` where given; only provided fields change."""
    caller.require(Scope.MODELS_WRITE)
    if not isinstance(changes, dict):
        raise DxglError(ErrorCode.INVALID_REQUEST, "the body must be a JSON object")
    unknown = set(changes) - {"title", "sku", "tags"}
    if unknown:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"unknown field(s): {', '.join(sorted(unknown))}")
    title = _text_field("title", changes.get("title"))
    sku = _text_field("sku", changes.get("sku"))
    tags = None
    if "tags" in changes:
        if not isinstance(changes["tags"], list):
            raise DxglError(ErrorCode.INVALID_REQUEST, "tags must be an array of strings")
        tags = list(dict.fromkeys(normalise_tag(t) for t in changes["tags"]))
        if len(tags) > MAX_TAGS:
            raise DxglError(ErrorCode.INVALID_REQUEST, f"at most {MAX_TAGS} tags")
    model = await scoped.live_model(session, caller.account_id, model_id)
    if "title" in changes:
        model.title = title
    if "sku" in changes:
        model.sku = sku
    if tags is not None:
        model.tags = tags
        await session.execute(delete(ModelTag).where(col(ModelTag.model_id) == model.id))
        if tags:
            await session.execute(insert(ModelTag), [{"model_id": model.id, "tag": t} for t in tags])
    await session.flush()
    return model


async def set_archived(session: AsyncSession, caller: Caller, model_id: str, *, archived: bool) -> Model3D:
    caller.require(Scope.MODELS_WRITE)
    model = await scoped.live_model(session, caller.account_id, model_id)
    if archived and model.archived_at is None:
        model.archived_at = utcnow()
    elif not archived:
        model.archived_at = None
    await session.flush()
    return model


async def delete_model(session: AsyncSession, caller: Caller, model_id: str) -> Model3D:
    """Soft delete: the model answers 404 afterwards; its renders stay reachable. Its stored files
    (the model file and the decoded copy) stay too: renders of it still queued load them."""
    caller.require(Scope.MODELS_WRITE)
    model = await scoped.live_model(session, caller.account_id, model_id)
    model.deleted_at = utcnow()
    await session.flush()
    return model


async def model_file(
    session: AsyncSession, caller: Caller, model_id: str, *, storage: Storage, decoded: bool = False
) -> tuple[Model3D, str]:
    """The model file (as uploaded, or the converted GLB), or with ``decoded=True`` the GLB renders
    load (``assets.render_source_key``: the decoded copy when there is one; what a browser's 3D view
    needs, with no Draco, meshopt or KTX2 decoder). Returns the model and the blob's storage key."""
    caller.require(Scope.MODELS_READ)
    model = await scoped.live_model(session, caller.account_id, model_id)
    key = render_source_key(model) if decoded else model.storage_key
    if await storage.stat_async(key) is None:
        raise DxglError(ErrorCode.FILE_NOT_FOUND)
    return model, key


async def check_hash(session: AsyncSession, caller: Caller, sha256: Any) -> Model3D | None:
    caller.require(Scope.MODELS_READ)
    if sha256 is None or sha256 == "":
        raise DxglError(ErrorCode.SHA256_REQUIRED)
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise DxglError(ErrorCode.INVALID_REQUEST, "sha256 must be 64 hexadecimal characters")
    return await scoped.live_model_by_hash(session, caller.account_id, sha256)


async def renders_of_models(session: AsyncSession, caller: Caller, model_ids: list[str]) -> dict[str, list[Render]]:
    """Every render of these models (one query), newest first, grouped by model id."""
    caller.require(Scope.MODELS_READ)
    grouped: dict[str, list[Render]] = {mid: [] for mid in model_ids}
    if not model_ids:
        return grouped
    rows = (
        await session.execute(
            select(Render)
            .where(*scoped.account_renders(caller.account_id), col(Render.model_id).in_(model_ids))
            .order_by(col(Render.created_at).desc(), col(Render.id))
        )
    ).scalars()
    for render in rows:
        grouped[render.model_id].append(render)
    return grouped
