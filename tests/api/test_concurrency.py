"""Credits under concurrency: conditional deduction, never negative, ledger equals balance."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import func, select

from dxgl.tables import Account, LedgerEntry, Render
from tests.api.helpers import minimal_glb


async def test_fifty_concurrent_creations_with_ten_credits(service):
    owner = await service.account(credits=11)  # 1 for the upload's first render
    model_id = (await owner.upload(minimal_glb(b"conc"))).json()["data"]["modelId"]
    assert (await owner.request("GET", "/v1/account")).json()["data"]["credits"] == 10

    async def create():
        return await owner.request(
            "POST", "/v1/renders", json={"modelId": model_id, "renderSettings": {"quality": "standard"}}
        )

    responses = await asyncio.gather(*(create() for _ in range(50)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 10, 402: 40}, statuses
    assert all(r.json()["error"]["code"] == "no_credits" for r in responses if r.status_code == 402)

    async with service.runtime.unit_of_work() as s:
        account = await s.get_one(Account, owner.id)
        paid, free = (
            await s.execute(
                select(func.sum(LedgerEntry.paid_delta), func.sum(LedgerEntry.free_delta)).where(
                    LedgerEntry.account_id == owner.id
                )
            )
        ).one()
        renders = (
            await s.execute(select(func.count()).select_from(Render).where(Render.account_id == owner.id))
        ).scalar_one()
    assert (account.paid_credits, account.free_credits) == (0, 0)
    assert (paid, free) == (0, 0)
    assert renders == 11


async def test_concurrent_batches_are_all_or_nothing(service):
    owner = await service.account(credits=13)
    model_id = (await owner.upload(minimal_glb(b"cb"))).json()["data"]["modelId"]  # 12 left

    async def batch():
        return await owner.request("POST", "/v1/renders/batch", json={"renders": [{"modelId": model_id}] * 5})

    responses = await asyncio.gather(*(batch() for _ in range(6)))
    assert Counter(r.status_code for r in responses) == {201: 2, 402: 4}
    account = (await owner.request("GET", "/v1/account")).json()["data"]
    assert account["credits"] == 2
    assert (await owner.request("GET", "/v1/renders")).json()["meta"]["total"] == 11
