"""POST /v1/quote: what creating a render or a batch would charge, creating nothing (docs/api.md,
"Quotes"). On SQLite and PostgreSQL (the ``service`` fixture)."""

from __future__ import annotations

from sqlalchemy import func, select

from dxgl.tables import LedgerEntry, Render
from tests.api.helpers import assert_error, minimal_glb

# paid first; free only for standard videos (watermarked) and 100x800 datasets (no watermark)
MIXED = [
    {"renderSettings": {"quality": "4k"}},  # 4 credits, paid only
    {"renderSettings": {"quality": "standard"}},  # 1
    {"renderSettings": {"quality": "standard", "aspect": "1:1"}},  # 1
    {"renderSettings": {"effect": "dataset", "datasetQuality": "100x800"}},  # 1, free allowed, no watermark
    {},  # standard by default: 1
]


async def _counts(service, account_id: str) -> tuple[int, int]:
    async with service.runtime.unit_of_work() as s:
        renders = (await s.execute(select(func.count()).where(Render.account_id == account_id))).scalar_one()
        ledger = (await s.execute(select(func.count()).where(LedgerEntry.account_id == account_id))).scalar_one()
    return renders, ledger


async def test_quote_of_a_mixed_batch_equals_what_creating_it_charges(service):
    owner = await service.account(credits=6, free=3)
    model_id = (await owner.upload(minimal_glb(b"quote"))).json()["data"]["modelId"]  # 1 paid: 5 + 3 left
    body = {"renders": [{"modelId": model_id, **item} for item in MIXED]}
    before = await _counts(service, owner.id)

    r = await owner.request("POST", "/v1/quote", json=body)
    assert r.status_code == 200, r.text
    quote = r.json()["data"]
    assert await _counts(service, owner.id) == before  # nothing created, nothing charged
    assert quote["balance"] == {"paid": 5, "free": 3}
    assert quote["sufficient"] is True
    assert quote["credits"] == 8
    assert [(i["modelId"], i["credits"], i["paidBy"], i["watermark"]) for i in quote["items"]] == [
        (model_id, 4, "paid", False),
        (model_id, 1, "paid", False),
        (model_id, 1, "free", True),
        (model_id, 1, "free", False),
        (model_id, 1, "free", True),
    ]

    created = await owner.request("POST", "/v1/renders/batch", json=body)
    assert created.status_code == 201, created.text
    ids = [item["id"] for item in created.json()["data"]]
    account = (await owner.request("GET", "/v1/account")).json()["data"]
    assert (5 - account["paidCredits"]) + (3 - account["freeCredits"]) == quote["credits"]
    async with service.runtime.unit_of_work() as s:
        rows = {r.id: r for r in (await s.execute(select(Render).where(Render.id.in_(ids)))).scalars()}
    charged = [
        (rows[i].paid_credits_used + rows[i].free_credits_used, "free" if rows[i].free_credits_used else "paid")
        for i in ids
    ]
    assert charged == [(i["credits"], i["paidBy"]) for i in quote["items"]]
    assert [rows[i].watermark for i in ids] == [i["watermark"] for i in quote["items"]]


async def test_single_render_quote_and_an_insufficient_balance(service):
    owner = await service.account(credits=2)
    model_id = (await owner.upload(minimal_glb(b"quote-one"))).json()["data"]["modelId"]  # 1 left
    r = await owner.request("POST", "/v1/quote", json={"modelId": model_id, "renderSettings": {"quality": "pro"}})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {
        "credits": 16,
        "items": [{"modelId": model_id, "credits": 16, "paidBy": "paid", "watermark": False}],
        "balance": {"paid": 1, "free": 0},
        "sufficient": False,
    }
    r = await owner.request("POST", "/v1/quote", json={"modelId": model_id})
    assert r.json()["data"]["sufficient"] is True and r.json()["data"]["credits"] == 1
    # creating what the quote called insufficient is refused
    r = await owner.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": {"quality": "pro"}})
    assert_error(r, 402, "no_credits")


async def test_invalid_requests_get_the_same_errors_as_creating(service):
    owner = await service.account(credits=10)
    model_id = (await owner.upload(minimal_glb(b"quote-bad"))).json()["data"]["modelId"]
    cases = [
        ("/v1/renders", {"modelId": model_id, "renderSettings": {"quality": "8k"}}),
        ("/v1/renders", {"renderSettings": {}}),
        ("/v1/renders", {"modelId": "nosuchmodel0"}),
        ("/v1/renders", {"modelId": model_id, "renderSettings": {"bgImageId": "nosuchoverlay"}}),
        ("/v1/renders/batch", {"renders": []}),
        ("/v1/renders/batch", {"renders": [{"modelId": model_id}] * 101}),
        ("/v1/renders/batch", {"renders": [{"modelId": model_id}, {"modelId": model_id, "renderSettings": {"x": 1}}]}),
        ("/v1/renders/batch", {"renders": [{"modelId": model_id}, "nope"]}),
    ]
    before = await _counts(service, owner.id)
    for path, body in cases:
        created = await owner.request("POST", path, json=body)
        quoted = await owner.request("POST", "/v1/quote", json=body)
        assert created.status_code >= 400, (path, body)
        assert (quoted.status_code, quoted.json()) == (created.status_code, created.json()), (path, body)
    assert await _counts(service, owner.id) == before


async def test_quote_needs_renders_read(service):
    owner = await service.account(credits=10, scopes="models:write")
    r = await owner.request("POST", "/v1/quote", json={"modelId": "whatever0000"})
    assert_error(r, 403, "insufficient_scope")
