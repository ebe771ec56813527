"""Queries for dashboards. Each resolver authenticates, reads through the services in one unit of
work and returns plain GraphQL objects; nested renders/models come from the dataloaders."""

from __future__ import annotations

from collections.abc import Iterable

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from dxgl.schema.types import (
    Account,
    ApiToken,
    LedgerEntry,
    LedgerPage,
    Model,
    ModelPage,
    Quote,
    Render,
    RenderPage,
    RenderRequest,
)
from dxgl.schema.vocabulary import RenderSettingsInput, RenderStatusEnum, settings_dict
from dxgl.services import accounts, ledger, models, quote, renders, tokens
from dxgl.services.pagination import Page


def _selects(selections: Iterable[Selection], name: str) -> bool:
    for sel in selections:
        if isinstance(sel, SelectedField) and sel.name == name:
            return True
        if isinstance(sel, (FragmentSpread, InlineFragment)) and _selects(sel.selections, name):
            return True
    return False


def total_selected(info: Info) -> bool:
    """Is ``totalCount`` asked for? Counting is a second query, so skip it when it is not."""
    return _selects(info.selected_fields[0].selections, "totalCount")


@strawberry.type
class Query:
    @strawberry.field(description="The caller's account (scope account:read).")
    async def account(self, info: Info) -> Account:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            return Account.from_row(await accounts.get_account(session, caller))

    @strawberry.field(description="One of the caller's models (scope models:read).")
    async def model(self, info: Info, id: strawberry.ID) -> Model:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            return Model.from_row(await models.get_model(session, caller, str(id)))

    @strawberry.field(
        description="The caller's live models, newest first. tags: any of them (OR). archived: list only "
        "archived models instead of only unarchived ones. search: title, SKU or original file name contains it "
        f"(case-insensitive; at most {models.MAX_SEARCH_LEN} characters). limit defaults to 50 and is clamped to 100."
    )
    async def models(
        self,
        info: Info,
        limit: int | None = None,
        offset: int | None = None,
        tags: list[str] | None = None,
        archived: bool = False,
        search: str | None = None,
    ) -> ModelPage:
        caller = await info.context.caller()
        page = Page.parse(limit, offset)
        async with info.context.unit_of_work() as session:
            rows, total = await models.list_models(
                session,
                caller,
                page=page,
                tags=tags or [],
                archived=archived,
                search=search,
                with_total=total_selected(info),
            )
        return ModelPage(
            items=[Model.from_row(r) for r in rows], limit=page.limit, offset=page.offset, total_count=total or 0
        )

    @strawberry.field(description="The caller's model with this SHA-256, if any (the check-hash pre-flight).")
    async def model_by_hash(self, info: Info, sha256: str | None = None) -> Model | None:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            row = await models.check_hash(session, caller, sha256)
        return Model.from_row(row) if row is not None else None

    @strawberry.field(description="One of the caller's renders (scope renders:read).")
    async def render(self, info: Info, id: strawberry.ID) -> Render:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            return Render.from_row(await renders.get_render(session, caller, str(id)))

    @strawberry.field(
        description="The caller's renders, newest first, optionally of one model and/or one status. "
        "systemPreview: false leaves the free system previews out, true lists only them (null: all, flagged)."
    )
    async def renders(
        self,
        info: Info,
        model_id: strawberry.ID | None = None,
        status: RenderStatusEnum | None = None,
        system_preview: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> RenderPage:
        caller = await info.context.caller()
        page = Page.parse(limit, offset)
        async with info.context.unit_of_work() as session:
            rows, total = await renders.list_renders(
                session,
                caller,
                page=page,
                model_id=str(model_id) if model_id else None,
                status=status.value if status is not None else None,
                system_preview=system_preview,
                with_total=total_selected(info),
            )
        return RenderPage(
            items=[Render.from_row(r) for r in rows], limit=page.limit, offset=page.offset, total_count=total or 0
        )

    @strawberry.field(
        description="What creating renders would charge, creating nothing (scope renders:read): modelId and "
        "renderSettings as for createRender, or renders as for createRenderBatch. Invalid input gives the same "
        "errors as creating."
    )
    async def quote(
        self,
        info: Info,
        model_id: strawberry.ID | None = None,
        render_settings: RenderSettingsInput | None = None,
        renders: list[RenderRequest] | None = None,
    ) -> Quote:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            if renders is not None:
                items = [{"modelId": r.model_id, "renderSettings": settings_dict(r.render_settings)} for r in renders]
                result = await quote.quote_batch(session, caller, items=items)
            else:
                result = await quote.quote_render(
                    session, caller, model_id=model_id, raw_settings=settings_dict(render_settings)
                )
        return Quote.from_quote(result)

    @strawberry.field(
        description="The caller's credit ledger, newest first: every grant, charge and refund (scope "
        "account:read). limit defaults to 50 and is clamped to 100."
    )
    async def ledger(self, info: Info, limit: int | None = None, offset: int | None = None) -> LedgerPage:
        caller = await info.context.caller()
        page = Page.parse(limit, offset)
        async with info.context.unit_of_work() as session:
            rows, total = await ledger.list_entries(session, caller, page=page, with_total=total_selected(info))
        return LedgerPage(
            items=[LedgerEntry.from_row(r) for r in rows], limit=page.limit, offset=page.offset, total_count=total or 0
        )

    @strawberry.field(
        description="The account's API tokens, newest first, revoked and expired ones included (a portal "
        "session, or a token with tokens:write). The raw tokens are never shown again."
    )
    async def api_tokens(self, info: Info) -> list[ApiToken]:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            return [ApiToken.from_row(r) for r in await tokens.list_tokens(session, caller)]
