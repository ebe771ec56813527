"""``DXGL_TEXTURE_BUDGET_MPX`` reaches the ingest child: the deployment's budget, not the default,
decides whether an upload's textures are refused (issue 11, finding 4)."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_error
from tests.ingest import builders as b


@pytest.fixture
def settings(settings):
    settings.texture_budget_mpx = 2.5  # two 1024x1024 textures need 2.8 megapixels with their mips
    return settings


async def test_the_deployment_budget_refuses_what_the_default_would_take(service, tmp_path):
    acct = await service.account()
    path = b.textured_glb(
        tmp_path / "two.glb", [b.flat_png(1024, 1024, (200, 20, 20)), b.flat_png(1024, 1024, (20, 200, 20))]
    )
    err = assert_error(await acct.upload(path), 400, "invalid_model")
    assert "the texture budget is 2.5 megapixels" in err["message"], err
    assert (await acct.request("GET", "/v1/models")).json()["meta"]["total"] == 0
    one = b.textured_glb(tmp_path / "one.glb", [b.flat_png(1024, 1024, (20, 20, 200))])
    assert (await acct.upload(one)).status_code == 201  # 1.4 megapixels: within it
