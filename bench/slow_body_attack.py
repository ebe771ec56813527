"""Latency of another account's ``GET /v1/account`` during a slow-body attack (issue 11).

A real ``dxgl serve`` on the embedded default (SQLite; renders off so only the API is measured).
An attacker with a read-only token opens ``--attackers`` requests on the body-reading JSON routes,
sends the headers and a third of each body, and then nothing, for ``--seconds``; meanwhile a
victim account calls ``GET /v1/account`` back to back. Prints one JSON object: the victim's
request count, status counts and latency percentiles (ms).

    .venv/bin/python bench/slow_body_attack.py [--seconds 60] [--attackers 40]

Before the fix (the JSON body was read inside the authenticating transaction) the victim's
requests waited for SQLite's write lock and failed with 500 after the 30 s busy timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dxgl.config import Settings  # noqa: E402
from dxgl.runtime import Runtime  # noqa: E402
from dxgl.services import accounts, auth  # noqa: E402
from tests.live_server import ServeProcess, SlowClient, clean_env  # noqa: E402


async def _token(settings: Settings, email: str, scopes: list[str] | None = None) -> str:
    rt = await Runtime.start(settings)
    try:
        async with rt.unit_of_work() as session:
            account = await accounts.create_account(session, email=email, paid_credits=10)
            _, raw = await auth.create_token(session, account=account, scopes=scopes)
        return raw
    finally:
        await rt.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def attack(server: ServeProcess, victim: str, attacker: str, seconds: float, attackers: int) -> dict:
    routes = [
        ("POST", "/v1/models/check-hash", {"sha256": "0" * 64}),
        ("POST", "/v1/renders", {"modelId": "AAAAAAAAAAAA"}),
        ("POST", "/v1/renders/batch", {"renders": [{"modelId": "AAAAAAAAAAAA"}]}),
        ("PATCH", "/v1/models/AAAAAAAAAAAA", {"title": "x"}),
    ]
    slow = []
    for i in range(attackers):
        method, path, body = routes[i % len(routes)]
        payload = json.dumps(body).encode() + b" " * 64
        slow.append(
            await SlowClient.start(server.port, f"{path}#{i}", method, path, attacker, "application/json", payload)
        )
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {victim}"}) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status = (await client.get("/v1/account", timeout=120)).status_code
            except httpx.HTTPError:
                status = 0
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1
    for client_ in slow:
        client_.writer.close()
    return {
        "attack_seconds": seconds,
        "attackers": attackers,
        "victim_requests": len(latencies),
        "statuses": dict(statuses),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--attackers", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dxgl-attack-") as tmp:
        data_dir = Path(tmp) / "data"
        settings = Settings(data_dir=data_dir, run_renders_in_process=False)
        victim = asyncio.run(_token(settings, "victim@example.com"))
        attacker = asyncio.run(_token(settings, "attacker@example.com", ["models:read", "renders:read"]))
        env = clean_env(
            DXGL_DATA_DIR=str(data_dir),
            DXGL_RUN_RENDERS_IN_PROCESS="false",
            DXGL_LOG_LEVEL="warning",
            DXGL_BODY_TIMEOUT_SECONDS=str(args.seconds * 2),  # the attack outlasts the measurement
        )
        server = ServeProcess(env).start(expect_token=False)
        try:
            print(json.dumps(asyncio.run(attack(server, victim, attacker, args.seconds, args.attackers))))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
