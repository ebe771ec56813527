"""The look's render settings (issue 15): environment, environmentRotation, exposure,
showEnvironment, elevation, datasetNormals. Validated by the one settings rule (REST and GraphQL
alike), stored with their defaults; a video render without ``elevation`` stores the value chosen
from the model's shape (contract.auto_elevation over the inspection report's size)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import trimesh
from sqlalchemy import select, update

from dxgl.tables import Model3D, Render
from tests.api.helpers import assert_error, minimal_glb
from tests.graphql.conftest import gql, only_error

LOOK_DEFAULTS = {"environment": "studio", "environmentRotation": 0, "exposure": 0, "showEnvironment": False}

CREATE = (
    "mutation($m: ID, $s: RenderSettingsInput) { createRender(modelId: $m, renderSettings: $s) "
    "{ id renderSettings { environment environmentRotation exposure showEnvironment elevation datasetNormals } } }"
)


def box_glb(width: float, height: float, depth: float) -> bytes:
    """A box of these sides in metres (x, y up, z), standing on y = 0, as a GLB."""
    mesh = trimesh.creation.box(extents=(width, height, depth))
    mesh.apply_translation((0.0, height / 2.0, 0.0))
    buf = io.BytesIO()
    mesh.export(buf, file_type="glb")
    return buf.getvalue()


async def _model(acct, content: bytes) -> str:
    r = await acct.upload(content)
    assert r.status_code == 201, r.text
    return r.json()["data"]["modelId"]


async def _create(acct, model_id: str, settings: Any) -> dict[str, Any]:
    r = await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": settings})
    assert r.status_code == 201, r.text
    return r.json()["data"]


async def _stored(service, render_id: str) -> dict[str, Any]:
    async with service.runtime.unit_of_work() as session:
        return (await session.execute(select(Render.settings).where(Render.id == render_id))).scalar_one()


async def test_look_defaults_are_stored_and_good_values_kept(service):
    acct = await service.account(credits=50)
    model_id = await _model(acct, minimal_glb(b"look"))
    bare = await _create(acct, model_id, None)
    stored = await _stored(service, bare["id"])
    assert {k: stored[k] for k in LOOK_DEFAULTS} == LOOK_DEFAULTS
    assert "datasetNormals" not in stored  # a video has no dataset normals

    chosen = {"environment": "soft", "environmentRotation": -90.5, "exposure": 1.25, "showEnvironment": True}
    got = await _stored(service, (await _create(acct, model_id, {**chosen, "elevation": 30}))["id"])
    assert {k: got[k] for k in chosen} == chosen and got["elevation"] == 30
    edges = {"environment": "contrast", "environmentRotation": 180, "exposure": -3, "elevation": 0}
    got = await _stored(service, (await _create(acct, model_id, edges))["id"])
    assert {k: got[k] for k in edges} == edges
    # The GET echoes what was stored, the documented fields unchanged.
    body = (await acct.request("GET", f"/v1/renders/{bare['id']}")).json()["data"]
    assert body["renderSettings"] == stored
    assert (body["renderSettings"]["aspect"], body["renderSettings"]["length"]) == ("16:9", 6)

    dataset = await _stored(service, (await _create(acct, model_id, {"effect": "dataset"}))["id"])
    assert dataset["datasetNormals"] == "geometric" and "elevation" not in dataset
    assert {k: dataset[k] for k in LOOK_DEFAULTS} == LOOK_DEFAULTS
    shading = await _stored(
        service,
        (await _create(acct, model_id, {"output": "dataset", "datasetNormals": "shading", "exposure": 1}))["id"],
    )
    assert (shading["datasetNormals"], shading["exposure"]) == ("shading", 1)


async def test_bad_look_values_are_invalid_settings_naming_the_field(service):
    acct = await service.account(credits=50)
    model_id = await _model(acct, minimal_glb(b"bad-look"))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"environment": "not an id!"}, 'renderSettings.environment must be a built-in environment ("studio"'),
        ({"environment": 5}, "renderSettings.environment must be a built-in environment"),
        ({"environment": ""}, "renderSettings.environment must be a built-in environment"),
        ({"environment": "sunset"}, "renderSettings.environment names no built-in environment"),
        ({"environmentRotation": 181}, "renderSettings.environmentRotation must be a number from -180 to 180"),
        ({"environmentRotation": "90"}, "renderSettings.environmentRotation must be a number"),
        ({"environmentRotation": True}, "renderSettings.environmentRotation must be a number"),
        ({"exposure": 3.01}, "renderSettings.exposure must be a number from -3 to 3"),
        ({"exposure": -4}, "renderSettings.exposure must be a number from -3 to 3"),
        ({"showEnvironment": "yes"}, "renderSettings.showEnvironment must be true or false"),
        ({"showEnvironment": 1}, "renderSettings.showEnvironment must be true or false"),
        ({"elevation": -1}, "renderSettings.elevation must be a number from 0 to 60"),
        ({"elevation": 60.5}, "renderSettings.elevation must be a number from 0 to 60"),
        ({"elevation": None}, "renderSettings.elevation must be a number"),
        ({"effect": "dataset", "elevation": 20}, "renderSettings.elevation applies only to video renders"),
        (
            {"effect": "dataset", "showEnvironment": True},
            "renderSettings.showEnvironment applies only to video renders",
        ),
        ({"datasetNormals": "shading"}, "renderSettings.datasetNormals applies only to dataset renders"),
        ({"effect": "dataset", "datasetNormals": "bumpy"}, "renderSettings.datasetNormals must be one of"),
    ]
    for settings, message in cases:
        r = await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": settings})
        error = assert_error(r, 400, "invalid_settings")
        assert error["message"].startswith(message), (settings, error["message"])
    # The same rule on upload (the first render's settings): refused before anything is stored.
    r = await acct.upload(minimal_glb(b"bad-look-upload"), settings={"exposure": 9})
    assert "renderSettings.exposure" in assert_error(r, 400, "invalid_settings")["message"]
    listing = (await acct.request("GET", "/v1/renders")).json()
    assert listing["meta"]["total"] == 1  # only the first upload's render; nothing charged by the rest


async def test_graphql_takes_the_look_and_answers_the_services_errors(service):
    acct = await service.account(credits=50)
    model_id = await _model(acct, minimal_glb(b"gql-look"))
    settings = {"environment": "contrast", "environmentRotation": 45.0, "exposure": -0.5, "showEnvironment": True}
    result = await gql(acct, CREATE, {"m": model_id, "s": settings})
    assert "errors" not in result, result
    created = result["data"]["createRender"]
    assert created["renderSettings"] == {**settings, "elevation": 12.0, "datasetNormals": None}
    rest = await _create(acct, model_id, settings)
    assert await _stored(service, created["id"]) == await _stored(service, rest["id"])
    dataset = await gql(acct, CREATE, {"m": model_id, "s": {"effect": "DATASET", "datasetNormals": "SHADING"}})
    assert dataset["data"]["createRender"]["renderSettings"]["datasetNormals"] == "SHADING"
    assert dataset["data"]["createRender"]["renderSettings"]["elevation"] is None
    for bad in ({"exposure": 4.0}, {"elevation": 61.0}, {"environment": "sunset"}, {"environment": "a-b"}):
        r = await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": bad})
        rest_message = assert_error(r, 400, "invalid_settings")["message"]
        error = only_error(await gql(acct, CREATE, {"m": model_id, "s": bad}))
        assert error["extensions"] == {"code": "invalid_settings", "status": 400}, bad
        assert error["message"] == rest_message, bad
    # A dataset normal that is not in the enum is GraphQL's own validation error.
    typed = await gql(acct, CREATE, {"m": model_id, "s": {"effect": "DATASET", "datasetNormals": "BUMPY"}})
    assert typed["errors"][0]["extensions"]["code"] == "invalid_request"


async def test_show_environment_refuses_a_background_image(service):
    from tests.api.test_overlays import image_bytes

    acct = await service.account(credits=50)
    model_id = await _model(acct, minimal_glb(b"show-env"))
    r = await acct.request("POST", "/v1/overlays", files={"file": ("bg.png", image_bytes())})
    bg = r.json()["data"]["id"]
    r = await acct.request(
        "POST", "/v1/renders", json={"modelId": model_id, "renderSettings": {"showEnvironment": True, "bgImageId": bg}}
    )
    message = assert_error(r, 400, "invalid_settings")["message"]
    assert "showEnvironment" in message and "bgImageId" in message
    # showEnvironment false with a background image is fine (the image is the background).
    stored = await _stored(service, (await _create(acct, model_id, {"showEnvironment": False, "bgImageId": bg}))["id"])
    assert stored["bgImageId"] == bg


async def test_stored_elevation_is_chosen_from_the_models_shape(service):
    acct = await service.account(credits=50)
    # A 20 x 1 x 12 cm slab lying flat: height / larger side = 1/20, below 1/6 -> 45 degrees.
    slab = await _model(acct, box_glb(0.20, 0.01, 0.12))
    # A bottle-like box standing up: 8 x 25 x 8 cm -> 12 degrees, as before.
    upright = await _model(acct, box_glb(0.08, 0.25, 0.08))
    # A book-like 20 x 5 x 15 cm box: 1/4, between a sixth and a third -> 35 degrees.
    low = await _model(acct, box_glb(0.20, 0.05, 0.15))
    async with service.runtime.unit_of_work() as session:
        size = (await session.get_one(Model3D, slab)).inspection["sizeMeters"]
    np.testing.assert_allclose(size, [0.20, 0.01, 0.12], atol=1e-6)  # x, y (up), z: the camera's axes
    for model_id, expected in ((slab, 45.0), (upright, 12.0), (low, 35.0)):
        stored = await _stored(service, (await _create(acct, model_id, {"length": 4}))["id"])
        assert stored["elevation"] == expected, (model_id, stored)
    # The upload's own first render records it too.
    r = await acct.upload(box_glb(0.30, 0.02, 0.10), settings={"length": 3})
    first = await _stored(service, r.json()["data"]["renderId"])
    assert first["elevation"] == 45.0
    # A given elevation is kept as given, flat model or not.
    assert (await _stored(service, (await _create(acct, slab, {"elevation": 5}))["id"]))["elevation"] == 5
    # A batch item is recorded like a single render.
    r = await acct.request("POST", "/v1/renders/batch", json={"renders": [{"modelId": slab}, {"modelId": upright}]})
    assert r.status_code == 201, r.text
    items = r.json()["data"]
    ids = [item["id"] for item in (items if isinstance(items, list) else items["renders"])]
    assert [(await _stored(service, i))["elevation"] for i in ids] == [45.0, 12.0]


async def test_a_model_without_an_inspection_size_stores_no_elevation(service):
    """Models stored before inspection existed have no size: nothing is stored and the renderer
    applies the same rule to the loaded model (JobSpec.elevation None)."""
    acct = await service.account(credits=50)
    model_id = await _model(acct, box_glb(0.20, 0.01, 0.12))
    async with service.runtime.unit_of_work() as session:
        await session.execute(update(Model3D).where(Model3D.id == model_id).values(inspection={}))
    stored = await _stored(service, (await _create(acct, model_id, None))["id"])
    assert "elevation" not in stored
    assert {k: stored[k] for k in LOOK_DEFAULTS} == LOOK_DEFAULTS
