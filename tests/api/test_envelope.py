"""Every error is the documented envelope: unknown routes, wrong methods, malformed JSON."""

from tests.api.helpers import assert_error


async def test_unknown_route_and_method(service):
    acct = await service.account()
    assert_error(await acct.request("GET", "/v1/nothing-here"), 404, "not_found")
    assert_error(await service.client.get("/nothing"), 404, "not_found")
    assert_error(await acct.request("PUT", "/v1/models"), 405, "method_not_allowed")
    assert_error(await acct.request("POST", "/v1/account"), 405, "method_not_allowed")


async def test_malformed_json_bodies(service):
    acct = await service.account()
    for body in (b"", b"{", b"[1,2]", b"\xff\xfe"):
        r = await acct.request(
            "POST", "/v1/models/check-hash", content=body, headers={"Content-Type": "application/json"}
        )
        assert_error(r, 400, "invalid_json")


async def test_trailing_slash_is_404_not_a_redirect(service):
    acct = await service.account()
    assert_error(await acct.request("GET", "/v1/models/"), 404, "not_found")
    assert_error(await acct.request("POST", "/v1/renders/", json={}), 404, "not_found")


async def test_nul_and_control_characters_never_reach_the_database(service):
    acct = await service.account(credits=5)
    from tests.api.helpers import minimal_glb

    model_id = (await acct.upload(minimal_glb(b"nul"), name="a\x00b.glb")).json()["data"]["modelId"]
    assert_error(await acct.request("GET", "/v1/models/a%00b"), 404, "model_not_found")
    assert_error(await acct.request("GET", "/v1/renders/a%00b"), 404, "render_not_found")
    assert_error(await acct.request("POST", "/v1/renders", json={"modelId": "a\u0000"}), 404, "model_not_found")
    assert (await acct.request("GET", "/v1/renders?model=a%00b")).json()["meta"]["total"] == 0
    assert_error(await acct.request("GET", "/v1/models?tags=a%00b"), 400, "invalid_request")
    for body in ({"sku": "\u0000"}, {"title": "x\u0000y"}, {"tags": ["a\u0000"]}):
        assert_error(await acct.request("PATCH", f"/v1/models/{model_id}", json=body), 400, "invalid_request")


async def test_model_file_ranges(service, duck):
    acct = await service.account(credits=5)
    model_id = (await acct.upload(duck)).json()["data"]["modelId"]
    part = await acct.request("GET", f"/v1/models/{model_id}/file", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == duck.read_bytes()[100:200]
    err = await acct.request("GET", f"/v1/models/{model_id}/file", headers={"Range": "bytes=999999-"})
    assert_error(err, 416, "range_not_satisfiable")
    assert err.headers["content-range"] == f"bytes */{duck.stat().st_size}"
    assert_error(
        await acct.request("GET", f"/v1/models/{model_id}/file", headers={"Range": "lines=1"}), 400, "invalid_request"
    )
    whole = await acct.request("GET", f"/v1/models/{model_id}/file", headers={"Range": ""})
    assert whole.status_code == 200 and whole.content == duck.read_bytes()
