"""Webhook endpoints through GraphQL: the same services, rules and error codes as /v1/webhooks."""

from __future__ import annotations

from standardwebhooks import Webhook

from dxgl.config import Settings
from dxgl.jobs.webhook_delivery import deliver_due
from tests.api.test_webhooks_support import Receiver
from tests.conftest import running_service as running
from tests.graphql.conftest import error_codes, gql, only_error
from tests.ingest.ssrf_spellings import SSRF_URLS

FIELDS = "id url description events creditsLowThreshold enabled disabledReason disabledAt createdAt updatedAt"
CREATE = (
    "mutation($url: String!, $events: [WebhookEventType!]!, $d: String) "
    "{ createWebhook(url: $url, events: $events, description: $d) { secret webhook { " + FIELDS + " } } }"
)
DETAIL = (
    "query($id: ID!) { webhook(id: $id) { " + FIELDS + " deliveries { id type status attempts "
    "attemptLog { number statusCode durationMs error } } } }"
)


async def test_create_query_update_rotate_test_delete(settings: Settings) -> None:
    settings = settings.model_copy(update={"webhook_allow_private": True, "webhook_retry_base_seconds": 3600})
    async with running(settings) as service:
        acct = await service.account()
        with Receiver() as receiver:
            created = await gql(acct, CREATE, {"url": receiver.url, "events": ["RENDER_DONE", "MODEL_CREATED"]})
            assert "errors" not in created, created
            data = created["data"]["createWebhook"]
            secret, endpoint = data["secret"], data["webhook"]
            assert secret.startswith("whsec_") and endpoint["events"] == ["RENDER_DONE", "MODEL_CREATED"]
            listed = await gql(acct, "{ webhooks { id } }")
            assert listed["data"]["webhooks"] == [{"id": endpoint["id"]}]
            # The same row as REST, field for field.
            rest = (await acct.request("GET", f"/v1/webhooks/{endpoint['id']}")).json()["data"]
            assert rest["url"] == endpoint["url"] and rest["createdAt"] == endpoint["createdAt"]

            updated = await gql(
                acct,
                'mutation($id: ID!) { updateWebhook(id: $id, description: "x", creditsLowThreshold: 3) { '
                + FIELDS
                + " } }",
                {"id": endpoint["id"]},
            )
            assert updated["data"]["updateWebhook"]["description"] == "x"
            assert updated["data"]["updateWebhook"]["creditsLowThreshold"] == 3
            assert updated["data"]["updateWebhook"]["events"] == ["RENDER_DONE", "MODEL_CREATED"]

            rotated = await gql(
                acct, "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }", {"id": endpoint["id"]}
            )
            new = rotated["data"]["rotateWebhookSecret"]["secret"]
            sent = await gql(
                acct, "mutation($id: ID!) { testWebhook(id: $id) { id type status } }", {"id": endpoint["id"]}
            )
            assert sent["data"]["testWebhook"]["type"] == "webhook.test"
            assert sent["data"]["testWebhook"]["status"] == "pending"
            await deliver_due(service.runtime)
            [got] = receiver.received
        Webhook(secret).verify(got.body, got.headers)
        Webhook(new).verify(got.body, got.headers)
        detail = (await gql(acct, DETAIL, {"id": endpoint["id"]}))["data"]["webhook"]
        [delivery] = detail["deliveries"]
        assert delivery["id"] == got.webhook_id and delivery["status"] == "succeeded"
        assert [a["statusCode"] for a in delivery["attemptLog"]] == [204]

        deleted = await gql(
            acct, "mutation($id: ID!) { deleteWebhook(id: $id) { id deleted } }", {"id": endpoint["id"]}
        )
        assert deleted["data"]["deleteWebhook"] == {"id": endpoint["id"], "deleted": True}
        gone = await gql(acct, DETAIL, {"id": endpoint["id"]})
        assert error_codes(gone) == ["webhook_not_found"]


async def test_private_urls_scopes_and_tenancy(settings: Settings) -> None:
    async with running(settings) as service:
        acct, other = await service.account(), await service.account()
        reader = await service.account(scopes="webhooks:read")
        for spelling in SSRF_URLS:
            refused = await gql(acct, CREATE, {"url": spelling.format(port=9), "events": ["RENDER_STATUS"]})
            assert only_error(refused)["extensions"]["code"] == "invalid_url", spelling
        assert (await gql(acct, "{ webhooks { id } }"))["data"]["webhooks"] == []
        denied = await gql(reader, CREATE, {"url": "https://example.invalid/", "events": ["RENDER_STATUS"]})
        assert only_error(denied)["extensions"]["code"] == "insufficient_scope"

    settings = settings.model_copy(update={"webhook_allow_private": True})
    async with running(settings) as service:
        acct, other = await service.account(), await service.account()
        created = await gql(acct, CREATE, {"url": "http://127.0.0.1:9/", "events": ["RENDER_STATUS"]})
        endpoint_id = created["data"]["createWebhook"]["webhook"]["id"]
        assert error_codes(await gql(other, DETAIL, {"id": endpoint_id})) == ["webhook_not_found"]
        stolen = await gql(other, "mutation($id: ID!) { testWebhook(id: $id) { id } }", {"id": endpoint_id})
        assert error_codes(stolen) == ["webhook_not_found"]


async def test_create_webhook_with_an_idempotency_key_makes_one_endpoint(settings: Settings) -> None:
    settings = settings.model_copy(update={"webhook_allow_private": True, "webhook_retry_base_seconds": 3600})
    create = (
        "mutation($url: String!, $k: String) { createWebhook(url: $url, events: [RENDER_DONE], "
        "idempotencyKey: $k) { secret webhook { id } } }"
    )
    async with running(settings) as service:
        acct = await service.account()
        first = await gql(acct, create, {"url": "http://127.0.0.1:9/a", "k": "gql-hook"})
        again = await gql(acct, create, {"url": "http://127.0.0.1:9/a", "k": "gql-hook"})
        assert "errors" not in first, first
        assert again["data"] == first["data"]
        listed = await gql(acct, "{ webhooks { id } }")
        assert listed["data"]["webhooks"] == [{"id": first["data"]["createWebhook"]["webhook"]["id"]}]
        other = await gql(acct, create, {"url": "http://127.0.0.1:9/b", "k": "gql-hook"})
        assert error_codes(other) == ["idempotency_conflict"]
