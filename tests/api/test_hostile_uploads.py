"""Every hostile file of the ingest suite, uploaded through ``POST /v1/models`` on both databases.

Each must be refused with its documented 4xx code and a message a user can act on, write nothing
outside the storage's temporary folder (which must be empty again afterwards), create no model or
render row, charge no credit, and leave the server answering: health and a valid upload next.

Beyond ``tests/ingest/hostile_cases.py`` (whose traversal names climb two levels, which from the
service's work folder stays inside ``.tmp``), ``API_CASES`` climb as far as the service's real layout
needs to reach the sentinel folder beside the data dir (data/files/.tmp/<job>/work/extracted), or aim
a link at it by absolute path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dxgl.tables import Model3D, Render
from tests.api.helpers import assert_error, minimal_glb
from tests.ingest import builders as b
from tests.ingest.hostile_cases import HOSTILE_CASES, MESSAGE_HINTS, lay_out, snapshot
from tests.ingest.hostile_format_cases import FORMAT_HOSTILE_CASES, FORMAT_MESSAGE_HINTS

STATUS = {"invalid_format": 400, "invalid_model": 400, "file_too_large": 400}
# From data/files/.tmp/<job>/work/extracted up to the folder that holds data/ and sentinel/.
TO_TEST_ROOT = "../" * 6


def _zip_gltf_uri(uri: str):
    def build(cases: Path) -> Path:
        doc, blob = b.triangle_document()
        doc["buffers"][0]["uri"] = uri
        return b.write_zip(cases / "deep-gltf.zip", {"scene.gltf": json.dumps(doc).encode(), "scene.bin": blob})

    return build


def _symlink_to_sentinel(cases: Path) -> Path:
    target = str((cases.parent / "sentinel").resolve())
    return b.write_zip_symlink(cases / "abs-link.zip", "link", target, {"link/pwned.obj": b.SIMPLE_OBJ})


API_CASES: list[tuple[str, object, str, str]] = [
    (
        "api_zip_dotdot_to_sentinel",
        lambda cases: b.write_zip(cases / "deep.zip", {TO_TEST_ROOT + "sentinel/pwned.obj": b.SIMPLE_OBJ}),
        "invalid_model",
        "'..'",
    ),
    (
        "api_zip_dotdot_into_models",
        lambda cases: b.write_zip(
            cases / "models.zip", {"../../../../models/evil/evil.glb": minimal_glb(b"evil"), "model.obj": b.SIMPLE_OBJ}
        ),
        "invalid_model",
        "'..'",
    ),
    ("api_zip_symlink_absolute_to_sentinel", _symlink_to_sentinel, "invalid_model", "symbolic link"),
    (
        "api_gltf_zip_uri_reads_sentinel",
        _zip_gltf_uri(TO_TEST_ROOT + "sentinel/secret.bin"),
        "invalid_model",
        "climbs out",
    ),
]


def built_once(build):
    """Build a case's file once and hand out copies of those bytes: some builders of
    hostile_cases.py mutate their closure and make a VALID file on a second call (finding H1)."""
    cache: dict[str, bytes] = {}

    def copy(cases: Path) -> Path:
        if not cache:
            first = build(cases)
            cache[first.name] = first.read_bytes()
            return first
        ((name, data),) = cache.items()
        (cases / name).write_bytes(data)
        return cases / name

    return copy


HINTS = {**MESSAGE_HINTS, **FORMAT_MESSAGE_HINTS}
ALL_CASES = [
    (name, built_once(build), code, HINTS[name]) for name, build, code in [*HOSTILE_CASES, *FORMAT_HOSTILE_CASES]
] + API_CASES
# Names that a naive extractor would create relative to the process's working directory or as absolute paths.
STRAY_PATHS = [Path("/tmp/pwned.obj"), Path.cwd() / "C:", Path.cwd() / "sentinel", Path("/etc/passwd.glb")]


def stray_state() -> dict[str, bool]:
    return {str(p): p.exists() or p.is_symlink() for p in STRAY_PATHS}


async def rows_of(service, account_id: str) -> tuple[int, int]:
    async with service.runtime.unit_of_work() as session:
        models = await session.execute(
            select(func.count()).select_from(Model3D).where(Model3D.account_id == account_id)
        )
        renders = await session.execute(select(func.count()).select_from(Render).where(Render.account_id == account_id))
        return models.scalar_one(), renders.scalar_one()


def test_every_ingest_case_is_covered_with_a_hint():
    assert len(ALL_CASES) >= 30
    assert {c[0] for c in [*HOSTILE_CASES, *FORMAT_HOSTILE_CASES]} <= {c[0] for c in ALL_CASES}
    assert all(hint for *_, hint in ALL_CASES)


# The cases shared with tests/ingest run there quickly on every run (straight into prepare_model);
# through the API, on both databases, they are part of the slow run. The API's own cases always run.
API_PARAMS = [
    pytest.param(*case, id=case[0], marks=() if case in API_CASES else pytest.mark.slow) for case in ALL_CASES
]


@pytest.mark.parametrize("name,build,code,hint", API_PARAMS)
async def test_hostile_upload_is_refused_and_leaves_nothing(service, settings, tmp_path: Path, name, build, code, hint):
    cases, upload = lay_out(tmp_path, build)
    acct = await service.account(credits=5)
    skip = {cases, tmp_path / "db"}  # the SQLite file changes on every request (token last use)
    before = snapshot(tmp_path, skip)
    strays = stray_state()
    account_before = (await acct.request("GET", "/v1/account")).json()["data"]

    response = await acct.upload(upload, name=upload.name)

    error = assert_error(response, STATUS[code], code)
    assert hint in error["message"], f"[{name}] message {error['message']!r} lacks {hint!r}"
    assert snapshot(tmp_path, skip) == before, f"[{name}] a file changed outside the temporary folder"
    assert not any(service.runtime.storage.tmp_dir.iterdir()), (
        f"[{name}] left {list(service.runtime.storage.tmp_dir.rglob('*'))}"
    )
    assert stray_state() == strays, f"[{name}] created a path outside the data dir"
    assert (await acct.request("GET", "/v1/account")).json()["data"] == account_before, f"[{name}] charged"
    assert await rows_of(service, acct.id) == (0, 0), f"[{name}] left a model or render row"
    assert (await acct.request("GET", "/v1/models")).json()["meta"]["total"] == 0

    health = await service.client.get("/v1/health")
    assert health.status_code == 200, f"[{name}] health after the hostile upload: {health.text}"
    valid = await acct.upload(minimal_glb(name.encode()), name="after.glb")
    assert valid.status_code == 201, f"[{name}] a valid upload after the hostile one: {valid.text}"


async def test_hostile_upload_name_stays_a_plain_name(service, tmp_path: Path):
    """The multipart filename is user data, never a path: a valid GLB named like a traversal is stored
    under its id, and its original name keeps no directory part or control character."""
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    acct = await service.account(credits=5)
    before = snapshot(tmp_path, {tmp_path / "db", tmp_path / "data"})
    # Raw multipart: httpx would percent-encode the control characters before the server saw them.
    boundary = "hostile-name-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{TO_TEST_ROOT}sentinel/evil\x01\x1b.glb"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + minimal_glb(b"named")
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = await acct.request(
        "POST", "/v1/models", content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 201, response.text
    model = (await acct.request("GET", f"/v1/models/{response.json()['data']['modelId']}")).json()["data"]
    assert model["originalName"] == "evil.glb"
    assert snapshot(tmp_path, {tmp_path / "db", tmp_path / "data"}) == before
    stored = [p for p in service.runtime.storage.root.rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [f"{model['id']}.glb"]
