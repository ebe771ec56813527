"""uploadModel through the GraphQL multipart request spec: storage, dedup, and the REST error codes."""

from __future__ import annotations

import hashlib

from tests.graphql.conftest import error_codes, gql, gql_upload


async def test_upload_stores_model_and_first_render(service, duck):
    acct = await service.account(credits=5)
    content = duck.read_bytes()
    result = await gql_upload(acct, content, name="duck.glb", settings={"length": 4})
    assert "errors" not in result, result
    data = result["data"]["uploadModel"]
    assert data["duplicate"] is False
    assert data["model"]["originalName"] == "duck.glb"
    assert data["model"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert data["render"]["status"] == "PENDING"
    assert data["render"]["modelId"] == data["model"]["id"]
    assert data["render"]["renderSettings"]["length"] == 4
    # The same model is visible through REST, and its file was stored.
    rest = await acct.request("GET", f"/v1/models/{data['model']['id']}")
    assert rest.status_code == 200
    assert rest.json()["data"]["renders"][0]["id"] == data["render"]["id"]
    assert (await acct.request("GET", f"/v1/models/{data['model']['id']}/file")).status_code == 200
    account = await gql(acct, "{ account { credits } }")
    assert account["data"]["account"]["credits"] == 4


async def test_second_upload_of_same_file_is_a_duplicate(service, duck):
    acct = await service.account(credits=5)
    first = (await gql_upload(acct, duck.read_bytes()))["data"]["uploadModel"]
    second = (await gql_upload(acct, duck.read_bytes()))["data"]["uploadModel"]
    assert second["duplicate"] is True
    assert second["model"]["id"] == first["model"]["id"]
    assert second["render"]["id"] != first["render"]["id"]
    # REST sees the same dedup: the file is already there.
    rest = await acct.upload(duck)
    assert rest.json()["data"]["modelId"] == first["model"]["id"] and rest.json()["data"]["duplicate"] is True
    models = await gql(acct, "{ models { totalCount items { renders { id } } } }")
    assert models["data"]["models"]["totalCount"] == 1
    assert len(models["data"]["models"]["items"][0]["renders"]) == 3


async def test_other_account_uploading_same_file_gets_its_own_model(service, duck):
    a = await service.account(credits=5)
    b = await service.account(credits=5)
    first = (await gql_upload(a, duck.read_bytes()))["data"]["uploadModel"]
    other = (await gql_upload(b, duck.read_bytes()))["data"]["uploadModel"]
    assert other["duplicate"] is False
    assert other["model"]["id"] != first["model"]["id"]


async def test_upload_errors_match_rest(service, duck):
    acct = await service.account(credits=5)
    assert error_codes(await gql_upload(acct, b"not a model at all")) == ["invalid_format"]
    assert error_codes(await gql_upload(acct, b"")) == ["invalid_format"]
    assert error_codes(await gql_upload(acct, duck.read_bytes(), settings={"length": 2})) == ["invalid_settings"]
    assert error_codes(await gql_upload(acct, duck.read_bytes(), settings={"length": "6"})) == ["invalid_request"]
    # A non-file value where the file belongs (plain JSON request): no_file.
    no_file = await gql(acct, 'mutation { uploadModel(file: "x") { duplicate } }')
    assert error_codes(no_file) == ["no_file"]
    broke = await service.account(credits=0)
    assert error_codes(await gql_upload(broke, duck.read_bytes())) == ["no_credits"]
    reader = await service.account(credits=5, scopes="models:read")
    assert error_codes(await gql_upload(reader, duck.read_bytes())) == ["insufficient_scope"]
    # Nothing was stored by any of these.
    assert (await gql(acct, "{ models { totalCount } }"))["data"]["models"]["totalCount"] == 0


async def test_upload_over_the_limit_is_file_too_large(service, duck):
    service.runtime.settings.upload_limit_bytes = 1024
    acct = await service.account(credits=5)
    assert error_codes(await gql_upload(acct, duck.read_bytes())) == ["file_too_large"]
    leftovers = [p for p in service.runtime.storage.tmp_dir.iterdir() if p.suffix == ".upload"]
    assert leftovers == []
