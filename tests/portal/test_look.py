"""The portal and the look (issue 15): environment overlays in the Overlays view (an HDR file is
never an <img>), and the look controls of the render-settings form, stored as chosen."""

from __future__ import annotations

import json
from pathlib import Path

from dxgl.contract import MAX_ENVIRONMENT_BYTES, MAX_OVERLAY_BYTES, BuiltinEnvironment
from dxgl.portal.routes import contract_document
from tests.portal.conftest import BOX, Service, screenshot, sign_in


def write_hdr(path: Path, width: int = 128, height: int = 64) -> Path:
    """A flat (not run-length encoded) Radiance RGBE file, every pixel (0.5, 0.5, 0.5)."""
    header = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n".encode()
    path.write_bytes(header + bytes((128, 128, 128, 129)) * (width * height))
    return path


def upload_overlay(service: Service, account, path: Path, layer: str, name: str) -> str:
    with service.api(account) as client, path.open("rb") as fh:
        response = client.post(
            "/v1/overlays",
            data={"layer": layer, "name": name},
            files={"file": (path.name, fh, "application/octet-stream")},
        )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["id"])


def renders_of(service: Service, account) -> list[dict]:
    with service.api(account) as client:
        response = client.get("/v1/renders")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def new_render(page, service: Service, account, known: set[str]) -> dict:
    """The one render created since ``known`` (the form's mutation may still be on its way)."""
    for _ in range(100):
        fresh = [r for r in renders_of(service, account) if r["id"] not in known]
        if fresh:
            [render] = fresh
            return render
        page.wait_for_timeout(200)
    alerts = page.get_by_role("alert").all_inner_texts()
    raise AssertionError(f"no render was created; the page says {alerts}")


def upload_model(service: Service, account) -> str:
    with service.api(account) as client, BOX.open("rb") as fh:
        response = client.post("/v1/models", files={"file": (BOX.name, fh, "model/gltf-binary")})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["modelId"])


def test_contract_document_gives_environment_its_own_kind() -> None:
    doc = json.loads(contract_document())
    env = doc["fields"]["environment"]
    # Not "overlay": the field takes a built-in name as well as an environment overlay's id.
    assert env["type"] == "environment"
    assert env["builtins"] == [e.value for e in BuiltinEnvironment]
    assert env["overlayLayer"] == "environment"
    assert doc["fields"]["bgImageId"]["type"] == "overlay"
    assert doc["fields"]["exposure"] == {"type": "number", "min": -3, "max": 3}
    assert doc["overlayLayers"]["environment"]["maxBytes"] == MAX_ENVIRONMENT_BYTES
    assert doc["overlayLayers"]["background"]["maxBytes"] == MAX_OVERLAY_BYTES
    assert doc["videoOnlyFields"] == ["elevation"]
    assert "datasetNormals" in doc["datasetDefaults"]


def test_environment_overlay_is_a_tile_never_a_broken_image(service: Service, new_page, tmp_path: Path) -> None:
    from PIL import Image

    account = service.account("look-overlays")
    png = tmp_path / "backdrop.png"
    Image.new("RGB", (64, 32), (30, 90, 200)).save(png)
    upload_overlay(service, account, png, "background", "Blue backdrop")
    hdr = write_hdr(tmp_path / "grey.hdr")

    page, errors = new_page()
    sign_in(page, service, account)
    page.goto("/#/overlays")
    layer = page.get_by_label("Layer")
    file_input = page.get_by_label("Image file")
    assert "10 MB" in page.locator(f"#{file_input.get_attribute('id')}-hint").inner_text()
    layer.select_option("environment")
    hint = page.locator(f"#{file_input.get_attribute('id')}-hint").inner_text()
    assert "100 MB" in hint and ".hdr" in hint and "8192×4096" in hint, hint
    assert ".hdr" in (file_input.get_attribute("accept") or "")
    assert page.get_by_label("Alignment").is_disabled()
    file_input.set_input_files(str(hdr))
    # The chosen HDR file is described, not previewed through an <img>.
    assert page.locator("form img.overlay-preview").is_hidden()
    page.get_by_label("Name").fill("Grey room")
    page.get_by_role("button", name="Upload overlay").click()

    card = page.locator("li[data-overlay-id]", has_text="Grey room")
    card.wait_for()
    assert card.get_attribute("data-layer") == "environment"
    assert card.locator("img").count() == 0
    tile = card.get_by_test_id("env-tile")
    assert "HDR environment 128×64" in tile.inner_text()
    assert tile.get_attribute("role") == "img" and "Grey room" in (tile.get_attribute("aria-label") or "")
    # Format and byte size, from a HEAD of the stored image.
    file_info = card.get_by_test_id("env-file")
    page.wait_for_function("el => el.textContent.length > 0", arg=file_info.element_handle())
    assert "Radiance .hdr" in file_info.inner_text() and "KB" in file_info.inner_text()

    # Every <img> on the page decodes (the picture overlay's preview included): none is broken.
    backdrop = page.locator("li[data-overlay-id]", has_text="Blue backdrop").locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=backdrop.element_handle())
    broken = page.evaluate(
        "() => [...document.querySelectorAll('img')].filter((i) => !i.hidden && !(i.complete && i.naturalWidth > 0)).map((i) => i.outerHTML)"
    )
    assert broken == []
    screenshot(page, "overlays-environment")

    with service.api(account) as client:
        listed = client.get("/v1/overlays", params={"layer": "environment"}).json()["data"]
    assert [(o["name"], o["width"], o["height"]) for o in listed if not o["system"]] == [("Grey room", 128, 64)]
    assert not errors.csp, errors.csp
    assert not errors.page, errors.page


def test_render_form_look_controls_are_stored(service: Service, new_page, tmp_path: Path) -> None:
    from PIL import Image

    account = service.account("look-form")
    model_id = upload_model(service, account)
    env_id = upload_overlay(service, account, write_hdr(tmp_path / "room.hdr"), "environment", "Room")
    png = tmp_path / "bg.png"
    Image.new("RGB", (64, 32), (200, 200, 30)).save(png)
    upload_overlay(service, account, png, "background", "Yellow")

    page, errors = new_page()
    sign_in(page, service, account)
    page.goto(f"/#/models/{model_id}")
    form = page.locator("form", has=page.get_by_role("heading", name="New render"))
    form.wait_for()
    environment = form.get_by_label("Lighting environment")
    values = environment.locator("option").evaluate_all("os => os.map((o) => o.value)")
    assert values == ["studio", "soft", "contrast", env_id]
    assert environment.input_value() == "studio"
    assert form.get_by_label("Exposure (EV)").get_attribute("step") == "0.1"
    assert form.get_by_label("Exposure (EV)").get_attribute("min") == "-3"
    assert form.get_by_label("Environment rotation (degrees)").get_attribute("max") == "180"
    elevation = form.get_by_label("Camera elevation (degrees)")
    assert elevation.input_value() == "" and elevation.get_attribute("max") == "60"

    # One background per frame: a background overlay disables showEnvironment and back.
    show = form.get_by_label("Show the environment as the background")
    background = form.get_by_label("Background overlay")
    background.select_option(label="Yellow")
    assert show.is_disabled()
    assert "Not with a background overlay" in form.get_by_test_id("background-note").inner_text()
    background.select_option("")
    assert show.is_enabled()
    show.check()
    assert background.is_disabled()
    show.uncheck()
    assert background.is_enabled()

    environment.select_option("soft")
    form.get_by_label("Exposure (EV)").fill("1")
    form.get_by_label("Environment rotation (degrees)").fill("45")
    screenshot(page, "render-form-look")
    known = {r["id"] for r in renders_of(service, account)}
    form.get_by_role("button", name="Create render").click()
    video = new_render(page, service, account, known)
    s = video["renderSettings"]
    assert (s["environment"], s["exposure"], s["environmentRotation"], s["showEnvironment"]) == ("soft", 1, 45, False)
    assert 0 <= s["elevation"] <= 60  # left empty: chosen from the model's shape and stored

    # A dataset: its normals offered, the camera elevation not (a dataset's views are fixed).
    form.get_by_label("Output").select_option("dataset")
    assert elevation.is_hidden()
    form.get_by_label("Dataset normals").select_option("shading")
    environment.select_option(env_id)
    assert show.is_hidden()  # a dataset's images are on white: showEnvironment is for videos
    known.add(video["id"])
    form.get_by_role("button", name="Create render").click()
    dataset = new_render(page, service, account, known)
    s = dataset["renderSettings"]
    assert (s["effect"], s["datasetNormals"], s["environment"], s["showEnvironment"]) == (
        "dataset",
        "shading",
        env_id,
        False,
    )
    assert "elevation" not in s
    # Not needed any further: spare the shared machine a 100-view render where it may.
    with service.api(account) as client:
        client.delete(f"/v1/renders/{dataset['id']}")
    assert not errors.csp, errors.csp
    assert not errors.page, errors.page
