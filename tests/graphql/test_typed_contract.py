"""The typed GraphQL contract: RenderSettingsInput and the enums built from dxgl.contract, the typed
RenderSettings output, and the credit ledger. The settings rule stays the service's: the same input
stores what REST stores and is refused with REST's error."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dxgl.contract import SETTING_FIELDS, Aspect, DatasetQuality, Effect, Quality, RenderStatus
from dxgl.schema.vocabulary import enum_of, graphql_name
from dxgl.services import accounts
from dxgl.tables import Render
from tests.api.helpers import minimal_glb
from tests.graphql.conftest import SETTINGS_FIELDS, error_codes, gql, gql_upload, only_error, rest_settings

CREATE = (
    "mutation($m: ID, $s: RenderSettingsInput) { createRender(modelId: $m, renderSettings: $s) "
    "{ id status renderSettings { " + SETTINGS_FIELDS + " } } }"
)
BATCH = (
    "mutation($r: [RenderRequest!]) { createRenderBatch(renders: $r) { id renderSettings { "
    + SETTINGS_FIELDS
    + " } } }"
)


def as_input(settings: dict[str, Any]) -> dict[str, Any]:
    """REST renderSettings JSON -> RenderSettingsInput variables (enum value names for choices)."""
    out = {}
    for field, value in settings.items():
        graphql_enum = enum_of(field)
        out[field] = graphql_enum(value).name if graphql_enum is not None and isinstance(value, str) else value
    return out


async def _model(acct, tag: bytes) -> str:
    r = await acct.upload(minimal_glb(tag))
    assert r.status_code == 201, r.text
    return r.json()["data"]["modelId"]


async def _stored(service, render_id: str) -> dict[str, Any]:
    async with service.runtime.unit_of_work() as session:
        return (await session.execute(select(Render.settings).where(Render.id == render_id))).scalar_one()


async def _rest_error(acct, model_id: str, settings: dict[str, Any]) -> dict[str, Any]:
    r = await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": settings})
    assert r.status_code == 400, r.text
    return r.json()["error"]


async def test_enum_names_are_derived_from_the_contract(service):
    acct = await service.account()
    query = '{ __type(name: "%s") { enumValues { name description } } }'
    for type_name, source, prefix in (
        ("Effect", Effect, ""),
        ("Quality", Quality, "Q"),
        ("Aspect", Aspect, "R"),
        ("DatasetQuality", DatasetQuality, "Q"),
        ("RenderStatus", RenderStatus, ""),
    ):
        values = (await gql(acct, query % type_name))["data"]["__type"]["enumValues"]
        assert [v["name"] for v in values] == [graphql_name(m.value, prefix or "V") for m in source]
        assert all(v["description"].startswith(f'"{m.value}"') for v, m in zip(values, source))
    names = [v["name"] for v in (await gql(acct, query % "Aspect"))["data"]["__type"]["enumValues"]]
    assert names == ["R16_9", "R1_1", "R9_16"]
    effects = [v["name"] for v in (await gql(acct, query % "Effect"))["data"]["__type"]["enumValues"]]
    assert "HERO_SPIN" in effects and "ZOOM_ORBIT" in effects
    fields = (await gql(acct, '{ __type(name: "RenderSettingsInput") { inputFields { name } } }'))["data"]["__type"]
    assert [f["name"] for f in fields["inputFields"]] == list(SETTING_FIELDS)


async def test_typed_settings_store_what_rest_stores(service):
    acct = await service.account(credits=50)
    model_id = await _model(acct, b"typed")
    cases = [
        {"effect": "hero-spin", "quality": "standard", "length": 8, "aspect": "1:1", "sweepAngle": 720},
        {"effect": "zoom-orbit", "bgColor": "#FF8800", "shadows": False, "rotateY": -45, "tiltX": 10, "zoomEnd": 0.5},
        {"effect": "dataset", "datasetQuality": "196x1024", "coverage": "sphere"},
        {"output": "dataset"},
        {"quality": "4k", "aspect": "9:16", "easing": False, "reflector": True},
        {},
    ]
    for settings in cases:
        rest = await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": settings})
        assert rest.status_code == 201, rest.text
        result = await gql(acct, CREATE, {"m": model_id, "s": as_input(settings)})
        assert "errors" not in result, (settings, result)
        created = result["data"]["createRender"]
        rest_stored = await _stored(service, rest.json()["data"]["id"])
        assert await _stored(service, created["id"]) == rest_stored, settings
        # The typed read-back is REST's JSON field for field (enum names; null where REST has no key).
        assert created["renderSettings"] == rest_settings(rest.json()["data"]["renderSettings"]), settings
        assert created["status"] == "PENDING"
    # No settings at all: every default, as REST.
    bare = (await gql(acct, CREATE, {"m": model_id}))["data"]["createRender"]
    rest = await acct.request("POST", "/v1/renders", json={"modelId": model_id})
    assert await _stored(service, bare["id"]) == await _stored(service, rest.json()["data"]["id"])

    # The same through a batch and an upload.
    batch = await gql(acct, BATCH, {"r": [{"modelId": model_id, "renderSettings": as_input(cases[0])}]})
    assert batch["data"]["createRenderBatch"][0]["renderSettings"]["sweepAngle"] == 720
    assert batch["data"]["createRenderBatch"][0]["renderSettings"]["effect"] == "HERO_SPIN"
    uploaded = await gql_upload(acct, minimal_glb(b"typed-upload"), settings={"effect": "REVEAL", "length": 5})
    assert uploaded["data"]["uploadModel"]["render"]["renderSettings"] == {
        "quality": "STANDARD",
        "effect": "REVEAL",
        "length": 5,
    }


async def test_settings_errors_are_the_services(service):
    acct = await service.account(credits=50)
    model_id = await _model(acct, b"errors")
    for settings in (
        {"length": 99},
        {"length": None},
        {"sweepAngle": 5},
        {"bgColor": "orange"},
        {"effect": "turntable", "coverage": "sphere"},
        {"bgAlign": "top-left"},
        {"tiltX": 91},
    ):
        rest = await _rest_error(acct, model_id, settings)
        error = only_error(await gql(acct, CREATE, {"m": model_id, "s": as_input(settings)}))
        assert error["extensions"] == {"code": "invalid_settings", "status": 400}, settings
        assert error["message"] == rest["message"], settings
    length = only_error(await gql(acct, CREATE, {"m": model_id, "s": {"length": 16}}))
    assert "renderSettings.length" in length["message"]
    # In a batch the item is named, as in REST.
    batch = only_error(
        await gql(acct, BATCH, {"r": [{"modelId": model_id}, {"modelId": model_id, "renderSettings": {"length": 2}}]})
    )
    assert batch["extensions"]["code"] == "invalid_settings" and "renders[1]" in batch["message"]
    assert "length" in batch["message"]
    # Nothing was created or charged by any of these.
    assert (await gql(acct, "{ renders { totalCount } }"))["data"]["renders"]["totalCount"] == 1


async def test_values_outside_the_enums_are_graphql_validation_errors(service):
    acct = await service.account(credits=5)
    model_id = await _model(acct, b"enums")
    literal = "mutation($m: ID) { createRender(modelId: $m, renderSettings: {effect: SPIRAL}) { id } }"
    assert error_codes(await gql(acct, literal, {"m": model_id})) == ["invalid_request"]
    for settings in ({"effect": "hero-spin"}, {"aspect": "R4_3"}, {"quality": "ULTRA"}, {"nope": 1}, {"length": "6"}):
        assert error_codes(await gql(acct, CREATE, {"m": model_id, "s": settings})) == ["invalid_request"], settings
    string_literal = 'mutation($m: ID) { createRender(modelId: $m, renderSettings: {quality: "4k"}) { id } }'
    assert error_codes(await gql(acct, string_literal, {"m": model_id})) == ["invalid_request"]
    assert error_codes(await gql(acct, '{ renders(status: "pending") { totalCount } }')) == ["invalid_request"]
    assert (await gql(acct, "{ renders { totalCount } }"))["data"]["renders"]["totalCount"] == 1


async def test_render_status_and_settings_read_back_typed(service):
    acct = await service.account(credits=5)
    model_id = await _model(acct, b"readback")
    created = await gql(acct, CREATE, {"m": model_id, "s": {"effect": "SHOWCASE", "quality": "STANDARD"}})
    render_id = created["data"]["createRender"]["id"]
    query = (
        "query($id: ID!) { render(id: $id) { status renderSettings { effect quality output amplitude sweepAngle "
        "length aspect datasetQuality bgImageId } } }"
    )
    render = (await gql(acct, query, {"id": render_id}))["data"]["render"]
    assert render == {
        "status": "PENDING",
        "renderSettings": {
            "effect": "SHOWCASE",
            "quality": "STANDARD",
            "output": "VIDEO",
            "amplitude": 60,
            "sweepAngle": None,
            "length": 6,
            "aspect": "R16_9",
            "datasetQuality": None,
            "bgImageId": None,
        },
    }
    pending = await gql(acct, "{ renders(status: PENDING) { totalCount items { id } } }")
    assert pending["data"]["renders"]["totalCount"] == 2
    assert (await gql(acct, "{ renders(status: DONE) { totalCount } }"))["data"]["renders"]["totalCount"] == 0


async def test_ledger_newest_first_paged_and_scoped(service):
    a = await service.account(credits=5)
    b = await service.account(credits=3)
    model_id = await _model(a, b"ledger")  # charge 1
    render_id = (await gql(a, CREATE, {"m": model_id}))["data"]["createRender"]["id"]  # charge 1
    deleted = await gql(a, "mutation($id: ID!) { deleteRender(id: $id) { deleted } }", {"id": render_id})  # refund
    assert deleted["data"]["deleteRender"]["deleted"] is True
    async with service.runtime.unit_of_work() as session:
        await accounts.grant_credits(
            session, account=await accounts.get_by_email(session, a.email), free=2, note="welcome back"
        )

    query = (
        "query($l: Int, $o: Int) { ledger(limit: $l, offset: $o) { totalCount limit offset items { "
        "id kind paidDelta freeDelta renderId note createdAt } } }"
    )
    page = (await gql(a, query, {}))["data"]["ledger"]
    assert page["totalCount"] == 5 and page["limit"] == 50 and page["offset"] == 0
    entries = page["items"]
    assert [e["kind"] for e in entries] == ["grant", "refund", "charge", "charge", "grant"]
    assert (entries[0]["paidDelta"], entries[0]["freeDelta"], entries[0]["note"]) == (0, 2, "welcome back")
    assert (entries[1]["paidDelta"], entries[1]["renderId"]) == (1, render_id)
    assert (entries[2]["paidDelta"], entries[2]["renderId"]) == (-1, render_id)
    assert entries[4]["paidDelta"] == 5 and entries[4]["renderId"] is None
    assert [e["createdAt"] for e in entries] == sorted((e["createdAt"] for e in entries), reverse=True)

    first = (await gql(a, query, {"l": 2}))["data"]["ledger"]["items"]
    second = (await gql(a, query, {"l": 2, "o": 2}))["data"]["ledger"]["items"]
    last = (await gql(a, query, {"l": 2, "o": 4}))["data"]["ledger"]["items"]
    assert [e["id"] for e in first + second + last] == [e["id"] for e in entries]
    assert (await gql(a, query, {"l": 500}))["data"]["ledger"]["limit"] == 100
    assert error_codes(await gql(a, query, {"l": 0})) == ["invalid_request"]

    # B sees only its own grant; a token without account:read sees nothing.
    theirs = (await gql(b, query, {}))["data"]["ledger"]
    assert theirs["totalCount"] == 1 and [e["kind"] for e in theirs["items"]] == ["grant"]
    assert not {e["id"] for e in theirs["items"]} & {e["id"] for e in entries}
    reader = await service.account(scopes="models:read")
    assert error_codes(await gql(reader, "{ ledger { items { id } } }")) == ["insufficient_scope"]
