"""Tenancy: account B gets 404 for every one of account A's models and renders, everywhere."""

from __future__ import annotations

import hashlib

from tests.api.helpers import assert_error, minimal_glb


async def test_other_account_sees_nothing(service):
    a = await service.account(credits=10)
    b = await service.account(credits=10)
    glb = minimal_glb(b"tenant")
    data = (await a.upload(glb)).json()["data"]
    model_id, render_id = data["modelId"], data["renderId"]

    for method, url, kwargs in [
        ("GET", f"/v1/models/{model_id}", {}),
        ("PATCH", f"/v1/models/{model_id}", {"json": {"title": "x"}}),
        ("PATCH", f"/v1/models/{model_id}/archive", {}),
        ("PATCH", f"/v1/models/{model_id}/unarchive", {}),
        ("GET", f"/v1/models/{model_id}/file", {}),
        ("DELETE", f"/v1/models/{model_id}", {}),
        ("POST", "/v1/renders", {"json": {"modelId": model_id}}),
        ("POST", "/v1/renders/batch", {"json": {"renders": [{"modelId": model_id}]}}),
    ]:
        assert_error(await b.request(method, url, **kwargs), 404, "model_not_found")
    for method, url in [
        ("GET", f"/v1/renders/{render_id}"),
        ("PATCH", f"/v1/renders/{render_id}/dismiss"),
        ("DELETE", f"/v1/renders/{render_id}"),
    ]:
        assert_error(await b.request(method, url), 404, "render_not_found")

    assert (await b.request("GET", "/v1/models")).json() == {"data": [], "meta": {"total": 0, "offset": 0, "limit": 50}}
    assert (await b.request("GET", "/v1/models?archived=true")).json()["data"] == []
    assert (await b.request("GET", f"/v1/renders?model={model_id}")).json()["data"] == []
    assert (await b.request("GET", "/v1/renders")).json()["meta"]["total"] == 0
    sha = hashlib.sha256(glb).hexdigest()
    assert (await b.request("POST", "/v1/models/check-hash", json={"sha256": sha})).json()["data"] == {
        "exists": False,
        "modelId": None,
    }
    # B's upload of the same bytes is a new model of B's, not a duplicate of A's
    own = (await b.upload(glb)).json()["data"]
    assert own["modelId"] != model_id and "duplicate" not in own
    # and A's things are untouched
    assert (await a.request("GET", f"/v1/models/{model_id}")).json()["data"]["title"] is None
    assert (await a.request("GET", "/v1/account")).json()["data"]["credits"] == 9
