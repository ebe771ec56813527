"""Schemathesis against a live ``dxgl serve`` on SQLite and on PostgreSQL, by hand (issue 11).

The suite's own conformance run (tests/api/test_openapi.py) sends 60 cases per operation through
ASGI; this one sends ``--examples`` (default 1000) per operation over real HTTP to a real server
process, with a real token, and counts server errors. Prints one JSON object per database.

    .venv/bin/python bench/fuzz_live.py [--examples 1000] [--databases sqlite,postgres]

PostgreSQL must answer on 127.0.0.1:5432 (trust auth); a fresh database is made for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dxgl.config import Settings  # noqa: E402
from dxgl.runtime import Runtime  # noqa: E402
from dxgl.services import accounts, auth  # noqa: E402
from tests.live_server import ServeProcess, clean_env  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _token(settings: Settings) -> str:
    rt = await Runtime.start(settings)  # migrates
    try:
        async with rt.unit_of_work() as session:
            account = await accounts.create_account(session, email="fuzz@example.com", paid_credits=10**6)
            _, raw = await auth.create_token(session, account=account)
        return raw
    finally:
        await rt.close()


async def _new_pg_database() -> str:
    import asyncpg

    name = f"dxgl_fuzz_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def run_one(database: str, examples: int, workdir: Path, phases: str = "") -> dict:
    data_dir = workdir / database / "data"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    url = asyncio.run(_new_pg_database()) if database == "postgres" else ""
    settings = Settings(data_dir=data_dir, database_url=url, run_renders_in_process=False)
    token = asyncio.run(_token(settings))
    env = clean_env(DXGL_DATA_DIR=str(data_dir), DXGL_RUN_RENDERS_IN_PROCESS="false", DXGL_LOG_LEVEL="warning")
    if url:
        env["DXGL_DATABASE_URL"] = url
    report = workdir / database / "junit.xml"
    server = ServeProcess(env).start(expect_token=False)
    try:
        started = time.monotonic()
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{server.url}/v1/openapi.json",
                "--max-examples",
                str(examples),
                "--checks",
                "not_a_server_error",
                "--header",
                f"Authorization: Bearer {token}",
                "--workers",
                "2",
                "--seed",
                "1",
                "--report",
                "junit",
                "--report-junit-path",
                str(report),
                "--no-color",
                *(["--phases", phases] if phases else []),
            ],
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        server_lines = [line for line in server.lines if "Traceback" in line or " 500 " in line]
    finally:
        server.stop()
    (workdir / database / "schemathesis.log").write_text(done.stdout + done.stderr)
    lines = done.stdout.strip().splitlines()
    # The summary, and any error sections before it (a runtime error's detail comes first).
    errors = [i for i, line in enumerate(lines) if "Runtime Error" in line or line.startswith("___")]
    tail = [*(line for i in errors[:3] for line in lines[i : i + 15]), *lines[-25:]]
    return {
        "database": database,
        "examples_per_operation": examples,
        "exit_code": done.returncode,
        "seconds": round(seconds, 1),
        "server_error_lines_in_server_log": len(server_lines),
        "summary": tail,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--phases", default="", help="schemathesis --phases (default: all)")
    parser.add_argument("--out", default="", help="keep schemathesis' logs and reports here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dxgl-fuzz-") as tmp:
        out = Path(args.out or tmp)
        for database in args.databases.split(","):
            print(json.dumps(run_one(database, args.examples, out, args.phases), indent=1), flush=True)


if __name__ == "__main__":
    main()
