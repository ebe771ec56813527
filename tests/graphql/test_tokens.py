"""API tokens through GraphQL: list, create (scopes within the creator's), revoke; the raw token is
answered once and works as a Bearer token on REST and GraphQL until it is revoked."""

from __future__ import annotations

import json

from dxgl.contract import Scope
from dxgl.services import tokens
from dxgl.services.auth import Caller
from tests.api.helpers import assert_error
from tests.graphql.conftest import error_codes, gql, only_error

TOKEN_FIELDS = "id prefix scopes createdAt expiresAt revokedAt"
CREATE = (
    "mutation($s: [String!]!, $e: Int) { createApiToken(scopes: $s, expiresInSeconds: $e) "
    "{ rawToken token { " + TOKEN_FIELDS + " } } }"
)
REVOKE = "mutation($id: ID!) { revokeApiToken(id: $id) { " + TOKEN_FIELDS + " } }"
LIST = "{ apiTokens { " + TOKEN_FIELDS + " } }"


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


async def test_create_a_narrower_token_and_use_it(service):
    owner = await service.account(credits=5)  # every scope, tokens:write included
    created = await gql(owner, CREATE, {"s": [Scope.ACCOUNT_READ.value, Scope.MODELS_READ.value]})
    assert "errors" not in created, created
    data = created["data"]["createApiToken"]
    raw, token = data["rawToken"], data["token"]
    assert raw.startswith("dxgl_sk_") and token["prefix"] == raw[:16]
    assert token["scopes"] == ["account:read", "models:read"]
    assert token["expiresAt"] is None and token["revokedAt"] is None

    client = service.client
    account = await client.get("/v1/account", headers=bearer(raw))
    assert account.status_code == 200 and account.json()["data"]["id"] == owner.id
    assert (await client.get("/v1/models", headers=bearer(raw))).status_code == 200
    assert_error(await client.get("/v1/renders", headers=bearer(raw)), 403, "insufficient_scope")
    via_graphql = await client.post("/graphql", headers=bearer(raw), json={"query": "{ account { id } }"})
    assert via_graphql.json()["data"]["account"]["id"] == owner.id

    # Listed (newest first) with its prefix only: the raw token is never readable again.
    listed = (await gql(owner, LIST))["data"]["apiTokens"]
    assert listed[0] == token and len(listed) == 2
    assert raw not in json.dumps(listed) and owner.token not in json.dumps(listed)
    fields = (await gql(owner, '{ __type(name: "ApiToken") { fields { name } } }'))["data"]["__type"]["fields"]
    assert {f["name"] for f in fields} == set(TOKEN_FIELDS.split())

    expiring = (await gql(owner, CREATE, {"s": ["account:read"], "e": 3600}))["data"]["createApiToken"]["token"]
    assert expiring["expiresAt"] is not None and expiring["expiresAt"] > expiring["createdAt"]


async def test_scopes_beyond_the_creators_and_unknown_scopes(service):
    limited = await service.account(scopes="account:read,models:read,tokens:write")
    extra = only_error(await gql(limited, CREATE, {"s": ["models:read", "renders:write", "models:write"]}))
    assert extra["extensions"]["code"] == "insufficient_scope"
    assert "renders:write" in extra["message"] and "models:write" in extra["message"]
    assert "models:read," not in extra["message"]
    # Within its own scopes (tokens:write too) is fine.
    ok = await gql(limited, CREATE, {"s": ["models:read", "tokens:write"]})
    assert ok["data"]["createApiToken"]["token"]["scopes"] == ["models:read", "tokens:write"]

    assert error_codes(await gql(limited, CREATE, {"s": ["models:read", "admin"]})) == ["invalid_request"]
    assert error_codes(await gql(limited, CREATE, {"s": []})) == ["invalid_request"]
    assert error_codes(await gql(limited, CREATE, {"s": ["models:read"], "e": 0})) == ["invalid_request"]
    assert error_codes(await gql(limited, CREATE, {"s": ["models:read"], "e": -5})) == ["invalid_request"]
    assert len((await gql(limited, LIST))["data"]["apiTokens"]) == 2  # nothing else was made


async def test_a_token_without_tokens_write_cannot_manage_tokens(service):
    owner = await service.account()
    plain = await service.account(scopes="account:read,models:read,models:write,renders:read,renders:write")
    assert error_codes(await gql(plain, LIST)) == ["insufficient_scope"]
    assert error_codes(await gql(plain, CREATE, {"s": ["models:read"]})) == ["insufficient_scope"]
    own_id = (await gql(owner, LIST))["data"]["apiTokens"][0]["id"]
    assert error_codes(await gql(plain, REVOKE, {"id": own_id})) == ["insufficient_scope"]
    assert error_codes(await gql(service.client, LIST)) == ["unauthorized"]


async def test_revoke_then_refused_and_other_accounts_tokens_are_not_found(service):
    a = await service.account()
    b = await service.account()
    raw = (await gql(a, CREATE, {"s": ["account:read"]}))["data"]["createApiToken"]
    token_id = raw["token"]["id"]
    assert (await service.client.get("/v1/account", headers=bearer(raw["rawToken"]))).status_code == 200

    # B can neither see nor revoke A's token: not_found, as for an id that does not exist.
    assert token_id not in {t["id"] for t in (await gql(b, LIST))["data"]["apiTokens"]}
    assert error_codes(await gql(b, REVOKE, {"id": token_id})) == ["not_found"]
    assert error_codes(await gql(b, REVOKE, {"id": "doesnotexist"})) == ["not_found"]
    assert error_codes(await gql(b, REVOKE, {"id": "not an id!"})) == ["not_found"]
    assert (await service.client.get("/v1/account", headers=bearer(raw["rawToken"]))).status_code == 200

    revoked = (await gql(a, REVOKE, {"id": token_id}))["data"]["revokeApiToken"]
    assert revoked["id"] == token_id and revoked["revokedAt"] is not None
    assert_error(await service.client.get("/v1/account", headers=bearer(raw["rawToken"])), 401, "unauthorized")
    refused = await service.client.post(
        "/graphql", headers=bearer(raw["rawToken"]), json={"query": "{ account { id } }"}
    )
    assert error_codes(refused.json()) == ["unauthorized"]
    # Revoking again changes nothing; the list shows it revoked.
    again = (await gql(a, REVOKE, {"id": token_id}))["data"]["revokeApiToken"]
    assert again["revokedAt"] == revoked["revokedAt"]
    listed = {t["id"]: t for t in (await gql(a, LIST))["data"]["apiTokens"]}
    assert listed[token_id]["revokedAt"] == revoked["revokedAt"]
    # A token may revoke itself: its next request is refused.
    me = (await gql(a, LIST))["data"]["apiTokens"][-1]["id"]
    assert (await gql(a, REVOKE, {"id": me}))["data"]["revokeApiToken"]["revokedAt"] is not None
    assert error_codes(await gql(a, LIST)) == ["unauthorized"]


async def test_a_portal_session_holds_every_scope(service):
    owner = await service.account(scopes="account:read")
    async with service.runtime.unit_of_work() as session:
        portal = Caller(account_id=owner.id, token_id="session1", scopes=frozenset(), portal_session=True)
        row, raw = await tokens.create_token(session, portal, scopes=[s.value for s in Scope])
        listed = await tokens.list_tokens(session, portal)
    assert tokens.token_scopes(row) == [s.value for s in Scope]
    assert row.id in {t.id for t in listed}
    listed_by_token = await service.client.get("/v1/renders", headers=bearer(raw))
    assert listed_by_token.status_code == 200
    # The account's own token (account:read only) may not manage tokens.
    assert error_codes(await gql(owner, LIST)) == ["insufficient_scope"]


async def test_a_token_made_by_an_expiring_token_cannot_outlive_it(service):
    """Finding of the security review: a short-lived token with tokens:write must not mint a
    permanent one. Asking for no expiry, or a later one, is refused; within its lifetime is fine."""
    owner = await service.account()
    short = (await gql(owner, CREATE, {"s": ["account:read", "tokens:write"], "e": 600}))["data"]["createApiToken"]
    headers = bearer(short["rawToken"])

    async def create_with_short(expires: int | None) -> dict:
        body = {"query": CREATE, "variables": {"s": ["account:read"], "e": expires}}
        return (await service.client.post("/graphql", headers=headers, json=body)).json()

    forever = only_error(await create_with_short(None))
    assert forever["extensions"]["code"] == "invalid_request" and "at most" in forever["message"]
    assert error_codes(await create_with_short(3600)) == ["invalid_request"]
    within = await create_with_short(300)
    assert within["data"]["createApiToken"]["token"]["expiresAt"] <= short["token"]["expiresAt"]
