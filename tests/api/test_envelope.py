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
        r = await acct.request("POST", "/v1/models/check-hash", content=body, headers={"Content-Type": "application/json"})
        assert_error(r, 400, "invalid_json")
