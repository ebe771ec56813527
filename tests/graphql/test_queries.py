"""Dashboard queries and mutations: shapes mirror REST, offset pages, and tenancy (account B never
sees or touches account A's models and renders)."""

from __future__ import annotations

from tests.graphql.conftest import SETTINGS_FIELDS, error_codes, gql, rest_settings, status_name

MODEL_FIELDS = "id originalName title sku tags fileSize sha256 createdAt archived broken brokenReason"
RENDER_FIELDS = (
    "id modelId status renderSettings { "
    + SETTINGS_FIELDS
    + " } fileSize errorMessage hasWebVariant isSystemPreview createdAt updatedAt"
)


async def _upload(acct, path) -> str:
    response = await acct.upload(path, name=path.name)
    assert response.status_code == 201, response.text
    return response.json()["data"]["modelId"]


async def test_account_and_model_mirror_rest(service, duck):
    acct = await service.account(credits=3, free=2)
    model_id = await _upload(acct, duck)
    account = (await gql(acct, "{ account { id email credits paidCredits freeCredits } }"))["data"]["account"]
    rest_account = (await acct.request("GET", "/v1/account")).json()["data"]
    assert account == rest_account

    query = f"query($id: ID!) {{ model(id: $id) {{ {MODEL_FIELDS} renders {{ {RENDER_FIELDS} model {{ id }} }} }} }}"
    model = (await gql(acct, query, {"id": model_id}))["data"]["model"]
    rest = (await acct.request("GET", f"/v1/models/{model_id}")).json()["data"]
    for key in (
        "id",
        "originalName",
        "title",
        "sku",
        "tags",
        "fileSize",
        "sha256",
        "createdAt",
        "broken",
        "brokenReason",
    ):
        assert model[key] == rest[key], key
    assert model["archived"] is False
    render = model["renders"][0]
    rest_render = (await acct.request("GET", f"/v1/renders/{render['id']}")).json()["data"]
    rest_render["status"] = status_name(rest_render["status"])
    rest_render["renderSettings"] = rest_settings(rest_render["renderSettings"])
    assert {k: v for k, v in render.items() if k != "model"} == rest_render
    assert render["model"] == {"id": model_id}


async def test_update_archive_delete_and_pages(service, duck, assets):
    acct = await service.account(credits=10)
    first = await _upload(acct, duck)
    second = await _upload(acct, assets / "BoxTextured.glb")
    updated = await gql(
        acct,
        'mutation($id: ID!) { updateModel(id: $id, title: "Duck", tags: ["Toys", "yellow"]) { title sku tags } }',
        {"id": first},
    )
    assert updated["data"]["updateModel"] == {"title": "Duck", "sku": None, "tags": ["toys", "yellow"]}
    # Arguments left out stay as they are; an explicit null clears.
    kept = await gql(acct, 'mutation($id: ID!) { updateModel(id: $id, sku: "D-1") { title sku } }', {"id": first})
    assert kept["data"]["updateModel"] == {"title": "Duck", "sku": "D-1"}
    cleared = await gql(acct, "mutation($id: ID!) { updateModel(id: $id, title: null) { title sku } }", {"id": first})
    assert cleared["data"]["updateModel"] == {"title": None, "sku": "D-1"}

    page = (await gql(acct, "{ models(limit: 1) { totalCount limit offset items { id } } }"))["data"]["models"]
    assert page["totalCount"] == 2 and page["limit"] == 1 and page["offset"] == 0
    assert [m["id"] for m in page["items"]] == [second]  # newest first
    page2 = (await gql(acct, "{ models(limit: 1, offset: 1) { items { id } } }"))["data"]["models"]
    assert [m["id"] for m in page2["items"]] == [first]
    assert (await gql(acct, "{ models(limit: 500) { limit } }"))["data"]["models"]["limit"] == 100
    tagged = (await gql(acct, '{ models(tags: ["TOYS"]) { items { id } } }'))["data"]["models"]["items"]
    assert [m["id"] for m in tagged] == [first]

    archived = await gql(acct, "mutation($id: ID!) { archiveModel(id: $id) { archived } }", {"id": first})
    assert archived["data"]["archiveModel"]["archived"] is True
    assert [m["id"] for m in (await gql(acct, "{ models { items { id } } }"))["data"]["models"]["items"]] == [second]
    listed = (await gql(acct, "{ models(archived: true) { items { id } } }"))["data"]["models"]["items"]
    assert [m["id"] for m in listed] == [first]
    await gql(acct, "mutation($id: ID!) { unarchiveModel(id: $id) { archived } }", {"id": first})
    assert len((await gql(acct, "{ models { items { id } } }"))["data"]["models"]["items"]) == 2

    sha = (await gql(acct, "query($id: ID!) { model(id: $id) { sha256 } }", {"id": first}))["data"]["model"]["sha256"]
    found = await gql(acct, "query($s: String) { modelByHash(sha256: $s) { id } }", {"s": sha.upper()})
    assert found["data"]["modelByHash"] == {"id": first}

    renders = await gql(
        acct, "query($m: ID) { renders(modelId: $m) { totalCount items { id modelId } } }", {"m": first}
    )
    assert renders["data"]["renders"]["totalCount"] == 1
    render_id = renders["data"]["renders"]["items"][0]["id"]
    pending = (await gql(acct, "{ renders(status: PENDING) { totalCount } }"))["data"]["renders"]["totalCount"]
    assert pending == 2

    deleted = await gql(acct, "mutation($id: ID!) { deleteModel(id: $id) { id deleted } }", {"id": first})
    assert deleted["data"]["deleteModel"] == {"id": first, "deleted": True}
    assert error_codes(await gql(acct, "query($id: ID!) { model(id: $id) { id } }", {"id": first})) == [
        "model_not_found"
    ]
    assert (await gql(acct, "query($s: String) { modelByHash(sha256: $s) { id } }", {"s": sha}))["data"][
        "modelByHash"
    ] is None
    # The render of a deleted model stays reachable; its model is null.
    orphan = await gql(acct, "query($id: ID!) { render(id: $id) { id model { id } } }", {"id": render_id})
    assert orphan["data"]["render"] == {"id": render_id, "model": None}
    gone = await gql(acct, "mutation($id: ID!) { deleteRender(id: $id) { id deleted } }", {"id": render_id})
    assert gone["data"]["deleteRender"] == {"id": render_id, "deleted": True}
    assert error_codes(await gql(acct, "query($id: ID!) { render(id: $id) { id } }", {"id": render_id})) == [
        "render_not_found"
    ]


async def test_account_b_never_sees_or_touches_account_a(service, duck):
    a = await service.account(credits=5)
    b = await service.account(credits=5)
    model_a = await _upload(a, duck)
    render_a = (await gql(a, "{ renders { items { id } } }"))["data"]["renders"]["items"][0]["id"]
    sha_a = (await gql(a, "query($id: ID!) { model(id: $id) { sha256 } }", {"id": model_a}))["data"]["model"]["sha256"]

    lists = await gql(b, "{ models { totalCount items { id } } renders { totalCount items { id } } }")
    assert lists["data"] == {"models": {"totalCount": 0, "items": []}, "renders": {"totalCount": 0, "items": []}}
    assert (await gql(b, "{ models(archived: true) { totalCount } }"))["data"]["models"]["totalCount"] == 0
    assert (await gql(b, "query($m: ID) { renders(modelId: $m) { totalCount } }", {"m": model_a}))["data"]["renders"][
        "totalCount"
    ] == 0
    assert (await gql(b, "query($s: String) { modelByHash(sha256: $s) { id } }", {"s": sha_a}))["data"][
        "modelByHash"
    ] is None

    by_model = {"id": model_a}
    by_render = {"id": render_a}
    for operation, variables, code in [
        ("query($id: ID!) { model(id: $id) { id } }", by_model, "model_not_found"),
        ("query($id: ID!) { render(id: $id) { id } }", by_render, "render_not_found"),
        ('mutation($id: ID!) { updateModel(id: $id, title: "mine") { id } }', by_model, "model_not_found"),
        ("mutation($id: ID!) { archiveModel(id: $id) { id } }", by_model, "model_not_found"),
        ("mutation($id: ID!) { unarchiveModel(id: $id) { id } }", by_model, "model_not_found"),
        ("mutation($id: ID!) { deleteModel(id: $id) { id } }", by_model, "model_not_found"),
        ("mutation($id: ID!) { createRender(modelId: $id) { id } }", by_model, "model_not_found"),
        ("mutation($id: ID!) { createRenderBatch(renders: [{modelId: $id}]) { id } }", by_model, "model_not_found"),
        ("mutation($id: ID!) { dismissRender(id: $id) { id } }", by_render, "render_not_found"),
        ("mutation($id: ID!) { deleteRender(id: $id) { id } }", by_render, "render_not_found"),
    ]:
        assert error_codes(await gql(b, operation, variables)) == [code], operation

    # A's data is untouched and B was not charged.
    model = (await gql(a, "query($id: ID!) { model(id: $id) { title archived renders { id } } }", by_model))["data"][
        "model"
    ]
    assert model == {"title": None, "archived": False, "renders": [{"id": render_a}]}
    assert (await gql(b, "{ account { credits } }"))["data"]["account"]["credits"] == 5


async def test_graphiql_in_a_browser(service):
    page = await service.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html") and "graphiql" in page.text.lower()
