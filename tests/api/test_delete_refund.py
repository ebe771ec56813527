"""Deleting a render: one that had not finished is refunded once, exactly like a failed render; a
done render keeps its charge (docs/credits.md). On SQLite and PostgreSQL (the ``service`` fixture).

The API tests keep renders pending (no renderer runs), so a render's later statuses are set the way
a worker sets them: ``render_state.claim`` for processing, the row's status for ``done``."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, update

from dxgl.jobs import render_job, run_renders
from dxgl.services import render_state
from dxgl.tables import LedgerEntry, Render
from tests.api.helpers import assert_error, minimal_glb

HANG_GUARD_S = 60  # only against a hung test


async def _upload(acct, tag: bytes) -> str:
    """A model with its first render (standard: 1 credit); returns the render's id."""
    r = await acct.upload(minimal_glb(tag))
    assert r.status_code == 201, r.text
    return r.json()["data"]["renderId"]


async def _ledger(service, render_id: str) -> list[str]:
    async with service.runtime.unit_of_work() as s:
        rows = (await s.execute(select(LedgerEntry.kind).where(LedgerEntry.render_id == render_id))).scalars()
        return sorted(rows)


async def _balance(acct) -> dict:
    data = (await acct.request("GET", "/v1/account")).json()["data"]
    return {"paid": data["paidCredits"], "free": data["freeCredits"]}


async def _ledger_sum(service, account_id: str) -> dict:
    async with service.runtime.unit_of_work() as s:
        paid, free = (
            await s.execute(
                select(func.sum(LedgerEntry.paid_delta), func.sum(LedgerEntry.free_delta)).where(
                    LedgerEntry.account_id == account_id
                )
            )
        ).one()
    return {"paid": paid, "free": free}


async def test_deleting_a_pending_render_refunds_it_once(service):
    acct = await service.account(credits=5)
    render_id = await _upload(acct, b"pending")
    assert await _balance(acct) == {"paid": 4, "free": 0}
    assert (await acct.request("GET", f"/v1/renders/{render_id}")).json()["data"]["status"] == "pending"

    r = await acct.request("DELETE", f"/v1/renders/{render_id}")
    assert r.status_code == 200 and r.json()["data"] == {"id": render_id, "deleted": True}, r.text
    assert await _balance(acct) == {"paid": 5, "free": 0}  # the credit is back
    assert await _ledger(service, render_id) == ["charge", "refund"]
    assert await _ledger_sum(service, acct.id) == await _balance(acct)  # balance == sum of the ledger

    # Deleting it again: not found, and still exactly one refund.
    assert_error(await acct.request("DELETE", f"/v1/renders/{render_id}"), 404, "render_not_found")
    assert await _balance(acct) == {"paid": 5, "free": 0}
    assert await _ledger(service, render_id) == ["charge", "refund"]


async def test_deleting_a_free_pending_render_gives_back_the_free_credit(service):
    acct = await service.account(credits=0, free=2)
    render_id = await _upload(acct, b"free")
    assert await _balance(acct) == {"paid": 0, "free": 1}
    assert (await acct.request("DELETE", f"/v1/renders/{render_id}")).status_code == 200
    assert await _balance(acct) == {"paid": 0, "free": 2}  # refunded as it was charged: the free part
    assert await _ledger(service, render_id) == ["charge", "refund"]
    assert await _ledger_sum(service, acct.id) == await _balance(acct)


async def test_deleting_a_done_render_keeps_its_charge(service):
    acct = await service.account(credits=5)
    render_id = await _upload(acct, b"done")
    async with service.runtime.unit_of_work() as s:  # what the worker's complete() leaves
        await s.execute(update(Render).where(Render.id == render_id).values(status="done", lease_until=None))
    assert (await acct.request("DELETE", f"/v1/renders/{render_id}")).status_code == 200
    assert await _balance(acct) == {"paid": 4, "free": 0}
    assert await _ledger(service, render_id) == ["charge"]
    assert_error(await acct.request("DELETE", f"/v1/renders/{render_id}"), 404, "render_not_found")
    assert await _ledger(service, render_id) == ["charge"]


async def test_deleting_a_failed_render_refunds_nothing_more(service):
    acct = await service.account(credits=5)
    render_id = await _upload(acct, b"failed")
    async with service.runtime.unit_of_work() as s:
        render = await s.get_one(Render, render_id)
        assert await render_state.fail(s, render, "boom")  # refunded here, once
    assert await _balance(acct) == {"paid": 5, "free": 0}
    assert (await acct.request("DELETE", f"/v1/renders/{render_id}")).status_code == 200
    assert await _balance(acct) == {"paid": 5, "free": 0}
    assert await _ledger(service, render_id) == ["charge", "refund"]


async def test_a_worker_finishing_a_deleted_render_charges_refunds_and_publishes_nothing(service):
    rt = service.runtime
    acct = await service.account(credits=5)
    render_id = await _upload(acct, b"processing")
    async with rt.unit_of_work() as s:  # a worker claims it: poster-processing, under a lease
        claimed = await render_state.claim(s, render_id, lease_s=3600, max_attempts=3)
    assert claimed is not None and claimed.status == "poster-processing"
    assert await _balance(acct) == {"paid": 4, "free": 0}

    assert (await acct.request("DELETE", f"/v1/renders/{render_id}")).status_code == 200
    assert await _balance(acct) == {"paid": 5, "free": 0}  # it never delivered: refunded
    assert await _ledger(service, render_id) == ["charge", "refund"]

    async with rt.events.subscribe(acct.id) as events:
        # The worker, still holding the row it claimed, now fails it, completes it, or gets it again.
        await render_job.fail(rt, claimed, "the render failed")
        async with rt.unit_of_work() as s:
            assert not await render_state.fail(s, claimed, "the render failed")
        async with rt.unit_of_work() as s:
            assert not await render_state.complete(s, claimed, file_size=1, has_web_variant=True, assets=["video.mp4"])
        await run_renders({"runtime": rt}, [render_id])  # delivered again: nothing to claim

        # A later render's status event is the first the account sees: none came for the deleted one.
        other = await _upload(acct, b"marker")
        async with asyncio.timeout(HANG_GUARD_S):
            first = await anext(aiter(events))
    assert first["id"] == other, first
    assert await _ledger(service, render_id) == ["charge", "refund"]  # no second refund, no charge
    assert await _balance(acct) == {"paid": 4, "free": 0}  # 5 back after the delete, 1 for the marker
    assert await _ledger_sum(service, acct.id) == await _balance(acct)
    assert not rt.storage.path(f"renders/{render_id}").exists()
