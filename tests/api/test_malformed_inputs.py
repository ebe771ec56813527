"""Every malformed input is a 4xx with the envelope, never a 500 (issue 11, findings 6 and 7):
bodies nested too deep, lone surrogates in text, an over-long multipart boundary, ``limit`` and
``offset`` that are not ASCII digits or are out of range, and two Authorization headers."""

from __future__ import annotations

import json

import pytest

from dxgl.services.json_input import MAX_DEPTH
from tests.api.helpers import assert_error, minimal_glb

DEEP_ARRAYS = [5000, 100_000]  # what the review sent; both used to raise RecursionError (500)


async def _model(acct) -> str:
    r = await acct.upload(minimal_glb(json.dumps(acct.id).encode()[1:-1]))
    assert r.status_code == 201, r.text
    return r.json()["data"]["modelId"]


@pytest.mark.parametrize("levels", DEEP_ARRAYS)
async def test_json_bodies_nested_too_deep_are_invalid_json(service, levels):
    acct = await service.account()
    model_id = await _model(acct)
    body = b"[" * levels + b"]" * levels
    obj = b'{"modelId": "' + model_id.encode() + b'", "renderSettings": ' + body + b"}"
    for method, url, content in [
        ("POST", "/v1/renders", body),
        ("POST", "/v1/renders", obj),
        ("POST", "/v1/renders/batch", b'{"renders": ' + body + b"}"),
        ("PATCH", f"/v1/models/{model_id}", b'{"tags": ' + body + b"}"),
        ("POST", "/v1/models/check-hash", body),
    ]:
        r = await acct.request(method, url, content=content, headers={"Content-Type": "application/json"})
        err = assert_error(r, 400, "invalid_json")
        assert "nested deeper" in err["message"], (url, err)


async def test_nesting_just_past_the_limit_is_refused_and_within_it_reaches_the_rules(service):
    acct = await service.account()
    model_id = await _model(acct)
    within = {"modelId": model_id, "renderSettings": {"length": 6}}
    r = await acct.request("POST", "/v1/renders", json=within)
    assert r.status_code == 201, r.text
    deep: object = 1
    for _ in range(MAX_DEPTH):  # MAX_DEPTH lists inside the object: one level too many
        deep = [deep]
    err = assert_error(
        await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": deep}),
        400,
        "invalid_json",
    )
    assert str(MAX_DEPTH) in err["message"]


async def test_render_settings_form_field_nested_30000_levels_is_invalid_settings(service):
    acct = await service.account()
    deep = "[" * 30_000 + "]" * 30_000
    r = await acct.request(
        "POST",
        "/v1/models",
        files={"file": ("m.glb", minimal_glb(b"deep-form"), "application/octet-stream")},
        data={"renderSettings": deep},
    )
    err = assert_error(r, 400, "invalid_settings")
    assert "renderSettings" in err["message"] and "nested deeper" in err["message"]
    assert (await acct.request("GET", "/v1/models")).json()["meta"]["total"] == 0  # nothing stored


@pytest.mark.parametrize("field", ["title", "sku"])
async def test_a_lone_surrogate_in_text_is_a_400_naming_the_field(service, field):
    acct = await service.account()
    model_id = await _model(acct)
    before = (await acct.request("GET", f"/v1/models/{model_id}")).json()["data"]
    body = b'{"' + field.encode() + b'": "ok \\ud800 then"}'  # valid JSON; not storable text
    err = assert_error(
        await acct.request(
            "PATCH", f"/v1/models/{model_id}", content=body, headers={"Content-Type": "application/json"}
        ),
        400,
        "invalid_request",
    )
    assert field in err["message"] and "surrogate" in err["message"]
    assert (await acct.request("GET", f"/v1/models/{model_id}")).json()["data"] == before  # unchanged
    # A proper pair (an emoji written as two escapes) is text and is stored.
    pair = b'{"' + field.encode() + b'": "ok \\ud83d\\ude00"}'
    r = await acct.request(
        "PATCH", f"/v1/models/{model_id}", content=pair, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"][field] == "ok \U0001f600"


async def test_a_lone_surrogate_in_a_tag_or_a_batch_is_refused(service):
    acct = await service.account()
    model_id = await _model(acct)
    err = assert_error(
        await acct.request(
            "PATCH",
            f"/v1/models/{model_id}",
            content=b'{"tags": ["fine", "\\udfff"]}',
            headers={"Content-Type": "application/json"},
        ),
        400,
        "invalid_request",
    )
    assert "tags[1]" in err["message"]
    batch = b'{"renders": [{"modelId": "' + model_id.encode() + b'"}, {"modelId": "x\\ud800"}]}'
    err = assert_error(
        await acct.request("POST", "/v1/renders/batch", content=batch, headers={"Content-Type": "application/json"}),
        400,
        "invalid_request",
    )
    assert "renders[1].modelId" in err["message"]


async def _upload_with_boundary(acct, boundary: str):
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="m.glb"\r\n\r\n'.encode()
        + minimal_glb(b"boundary")
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return await acct.request(
        "POST", "/v1/models", content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )


async def test_a_multipart_boundary_over_70_characters_is_invalid_request(service):
    acct = await service.account()
    for length in (71, 257, 5000):
        err = assert_error(await _upload_with_boundary(acct, "b" * length), 400, "invalid_request")
        assert "boundary" in err["message"]
    r = await _upload_with_boundary(acct, "b" * 70)  # RFC 2046's maximum is allowed
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("value", ["1_0", "\u0665", "\uff15", " 5", "+5", "-1", "0", "5.0", "0x10", "1e3"])
async def test_limit_and_offset_are_ascii_digits_only(service, value):
    acct = await service.account()
    for url in ("/v1/models", "/v1/renders"):
        err = assert_error(await acct.request("GET", url, params={"limit": value}), 400, "invalid_request")
        assert "limit" in err["message"]
    if value not in ("0",):  # offset 0 is the first page
        assert_error(await acct.request("GET", "/v1/models", params={"offset": value}), 400, "invalid_request")


@pytest.mark.parametrize("value", ["101", "2147483647", "2147483648", "99999999999", "9" * 5000])
async def test_every_limit_above_100_is_clamped_alike(service, value):
    acct = await service.account()
    for url in ("/v1/models", "/v1/renders"):
        r = await acct.request("GET", url, params={"limit": value})
        assert r.status_code == 200, r.text
        assert r.json()["meta"]["limit"] == 100


@pytest.mark.parametrize("value", ["2147483648", "99999999999", "9" * 5000])
async def test_offsets_beyond_any_row_are_clamped_to_an_empty_page(service, value):
    acct = await service.account()
    await _model(acct)
    r = await acct.request("GET", "/v1/models", params={"offset": value})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"] == [] and body["meta"]["total"] == 1 and body["meta"]["offset"] == 2**31 - 1


async def test_two_authorization_headers_are_401(service):
    acct = await service.account()
    other = await service.account()
    for first, second in [(acct.token, other.token), (acct.token, acct.token), (acct.token, "garbage")]:
        headers = [("Authorization", f"Bearer {first}"), ("Authorization", f"Bearer {second}")]
        for method, url in [("GET", "/v1/account"), ("POST", "/v1/models"), ("POST", "/v1/overlays")]:
            r = await service.client.request(method, url, headers=headers)
            err = assert_error(r, 401, "unauthorized")
            assert "one Authorization header" in err["message"], (url, err)
        r = await service.client.post("/graphql", headers=headers, json={"query": "{ account { id } }"})
        (error,) = r.json()["errors"]
        assert error["extensions"]["code"] == "unauthorized" and "one Authorization header" in error["message"]
    # one header still works
    assert (await acct.request("GET", "/v1/account")).status_code == 200
