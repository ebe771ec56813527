"""Every error code REST produces for these operations comes through GraphQL as extensions.code
(with extensions.status), and nothing else leaks."""

from __future__ import annotations

from datetime import timedelta

from graphql.error import GraphQLError
from sqlalchemy import update

from dxgl.schema.errors import format_error
from dxgl.services import accounts, auth
from dxgl.tables import ApiToken, Render
from dxgl.timeutil import utcnow
from tests.graphql.conftest import error_codes, gql, only_error

ACCOUNT = "{ account { id } }"


async def _model_id(acct, duck) -> str:
    response = await acct.upload(duck)
    assert response.status_code == 201, response.text
    return response.json()["data"]["modelId"]


async def test_authentication_errors(service):
    acct = await service.account()
    missing = only_error(await gql(service.client, ACCOUNT))
    assert missing["extensions"] == {"code": "unauthorized", "status": 401}
    assert error_codes(await gql(service.client, ACCOUNT, headers={"Authorization": "Bearer dxgl_sk_nope"})) == [
        "unauthorized"
    ]
    assert error_codes(await gql(service.client, ACCOUNT, headers={"Authorization": "Basic abc"})) == ["unauthorized"]

    async with service.runtime.unit_of_work() as session:
        await session.execute(
            update(ApiToken).where(ApiToken.account_id == acct.id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert error_codes(await gql(acct, ACCOUNT)) == ["token_expired"]

    other = await service.account()
    async with service.runtime.unit_of_work() as session:
        await accounts.set_status(
            session, account=await accounts.get_by_email(session, other.email), status="suspended"
        )
    assert only_error(await gql(other, ACCOUNT))["extensions"] == {"code": "forbidden", "status": 403}


async def test_revoked_token_is_unauthorized(service):
    acct = await service.account()
    async with service.runtime.unit_of_work() as session:
        await auth.revoke_tokens(session, prefix=acct.token)
    assert error_codes(await gql(acct, ACCOUNT)) == ["unauthorized"]


async def test_insufficient_scope_per_operation(service, duck):
    owner = await service.account(credits=5)
    model_id = await _model_id(owner, duck)
    reader = await service.account(scopes="models:read")
    assert error_codes(await gql(reader, ACCOUNT)) == ["insufficient_scope"]
    assert error_codes(await gql(reader, "{ renders { items { id } } }")) == ["insufficient_scope"]
    assert error_codes(await gql(reader, 'mutation { createRender(modelId: "x") { id } }')) == ["insufficient_scope"]
    assert error_codes(await gql(reader, 'mutation { archiveModel(id: "x") { id } }')) == ["insufficient_scope"]
    # A model query is allowed, but not another account's model.
    assert error_codes(await gql(reader, "query($id: ID!) { model(id: $id) { id } }", {"id": model_id})) == [
        "model_not_found"
    ]


async def test_render_creation_errors(service, duck):
    acct = await service.account(credits=2)
    model_id = await _model_id(acct, duck)  # spends 1
    create = "mutation($m: ID, $s: RenderSettingsInput) { createRender(modelId: $m, renderSettings: $s) { id status } }"
    assert error_codes(await gql(acct, create, {"m": None})) == ["model_id_required"]
    assert error_codes(await gql(acct, create, {"m": "doesnotexist"})) == ["model_not_found"]
    # Out of range: the service's rule (invalid_settings); not an Int, an unknown field: GraphQL's types.
    assert error_codes(await gql(acct, create, {"m": model_id, "s": {"length": 16}})) == ["invalid_settings"]
    assert error_codes(await gql(acct, create, {"m": model_id, "s": {"length": 6.5}})) == ["invalid_request"]
    assert error_codes(await gql(acct, create, {"m": model_id, "s": {"nope": 1}})) == ["invalid_request"]
    assert error_codes(await gql(acct, create, {"m": model_id, "s": {"quality": "Q4K"}})) == ["no_credits"]
    ok = await gql(acct, create, {"m": model_id})
    assert ok["data"]["createRender"]["status"] == "PENDING"
    assert error_codes(await gql(acct, create, {"m": model_id})) == ["no_credits"]
    err = only_error(await gql(acct, create, {"m": model_id}))
    assert err["extensions"]["status"] == 402


async def test_batch_errors(service, duck):
    acct = await service.account(credits=3)
    model_id = await _model_id(acct, duck)
    batch = "mutation($r: [RenderRequest!]) { createRenderBatch(renders: $r) { id modelId status } }"
    assert error_codes(await gql(acct, batch, {"r": None})) == ["renders_required"]
    assert error_codes(await gql(acct, batch, {"r": []})) == ["renders_required"]
    assert error_codes(await gql(acct, batch, {"r": [{"modelId": model_id}] * 101})) == ["too_many"]
    assert error_codes(await gql(acct, batch, {"r": [{"modelId": model_id}, {}]})) == ["model_id_required"]
    assert error_codes(await gql(acct, batch, {"r": [{"modelId": model_id, "renderSettings": {"length": 2}}]})) == [
        "invalid_settings"
    ]
    assert error_codes(await gql(acct, batch, {"r": [{"modelId": model_id, "renderSettings": {"aspect": "4:3"}}]})) == [
        "invalid_request"
    ]
    # Three renders, two credits left: none is charged.
    assert error_codes(await gql(acct, batch, {"r": [{"modelId": model_id}] * 3})) == ["no_credits"]
    made = await gql(acct, batch, {"r": [{"modelId": model_id}] * 2})
    assert [r["modelId"] for r in made["data"]["createRenderBatch"]] == [model_id, model_id]
    assert (await gql(acct, "{ account { credits } }"))["data"]["account"]["credits"] == 0


async def test_render_state_and_hash_errors(service, duck):
    acct = await service.account(credits=5)
    await _model_id(acct, duck)
    render_id = (await gql(acct, "{ renders { items { id } } }"))["data"]["renders"]["items"][0]["id"]
    dismiss = "mutation($id: ID!) { dismissRender(id: $id) { id status } }"
    conflict = only_error(await gql(acct, dismiss, {"id": render_id}))
    assert conflict["extensions"] == {"code": "invalid_state", "status": 409}
    async with service.runtime.unit_of_work() as session:
        await session.execute(update(Render).where(Render.id == render_id).values(status="error", error_message="boom"))
    dismissed = await gql(acct, dismiss, {"id": render_id})
    assert dismissed["data"]["dismissRender"]["status"] == "FAILED"
    assert error_codes(await gql(acct, dismiss, {"id": "nope"})) == ["render_not_found"]
    assert error_codes(await gql(acct, 'mutation { deleteRender(id: "nope") { id } }')) == ["render_not_found"]
    assert error_codes(await gql(acct, "{ modelByHash { id } }")) == ["sha256_required"]
    assert error_codes(await gql(acct, '{ modelByHash(sha256: "") { id } }')) == ["sha256_required"]
    assert error_codes(await gql(acct, '{ modelByHash(sha256: "xyz") { id } }')) == ["invalid_request"]
    assert error_codes(await gql(acct, "{ models(limit: 0) { totalCount } }")) == ["invalid_request"]
    assert error_codes(await gql(acct, '{ renders(status: "weird") { totalCount } }')) == ["invalid_request"]
    assert error_codes(await gql(acct, 'mutation { updateModel(id: "nope", title: "x") { id } }')) == [
        "model_not_found"
    ]


async def test_graphql_syntax_and_validation_errors_are_invalid_request(service):
    acct = await service.account()
    assert error_codes(await gql(acct, "{ account { nope } }")) == ["invalid_request"]
    assert error_codes(await gql(acct, "{ account ")) == ["invalid_request"]


def test_unexpected_exceptions_become_internal_without_details():
    secret = RuntimeError("password=hunter2 at /srv/dxgl/secret.py line 12")
    formatted = format_error(GraphQLError("password=hunter2", original_error=secret, path=["account"]))
    assert formatted.extensions == {"code": "internal", "status": 500}
    assert "hunter2" not in formatted.message
    assert formatted.path == ["account"]


async def test_upload_limit_and_file_errors(service):
    from tests.api.helpers import minimal_glb
    from tests.graphql.conftest import gql_upload

    service.runtime.settings.free_upload_limit = 1
    acct = await service.account(credits=0, free=5)
    assert not (await gql_upload(acct, minimal_glb(b"g1"))).get("errors")
    assert error_codes(await gql_upload(acct, minimal_glb(b"g2"))) == ["upload_limit"]
    assert error_codes(await gql_upload(acct, b"not a model")) == ["invalid_format"]
