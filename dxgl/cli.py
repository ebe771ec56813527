"""The ``dxgl`` command line. Scripts depend on these exact forms (see README)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select

from dxgl.config import get_settings
from dxgl.contract import DEFAULT_ALIGNMENT, OverlayLayer
from dxgl.errors import DxglError

# A self-hosted install's own account: enough paid credits to render without a watermark.
LOCAL_ACCOUNT_CREDITS = 1000


def _run(coro_fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return asyncio.run(coro_fn(*args))


async def _with_runtime(action: Callable[..., Awaitable[Any]]) -> Any:
    from dxgl.runtime import Runtime

    rt = await Runtime.start(get_settings())
    try:
        async with rt.unit_of_work() as session:
            return await action(session)
    finally:
        await rt.close()


def cmd_migrate(args: argparse.Namespace) -> int:
    from dxgl.db import migrate

    migrate(get_settings().resolved_database_url)
    print("database is at the latest migration")
    return 0


async def bootstrap_local_account(rt: Any) -> tuple[str, str] | None:
    """On an empty embedded database, create a local account; return a new API token for it and a
    one-time portal sign-in link (docs/portal.md)."""
    from dxgl.services import accounts, auth, sessions
    from dxgl.tables import Account

    async with rt.unit_of_work() as session:
        if (await session.execute(select(func.count()).select_from(Account))).scalar_one():
            return None
        account = await accounts.create_account(
            session,
            email="local@dxgl.local",
            paid_credits=LOCAL_ACCOUNT_CREDITS,
            free_credits=rt.settings.free_credits_for_new_accounts,
        )
        _, raw = await auth.create_token(session, account=account)
        link = sessions.signin_url(
            rt.settings.resolved_public_url, await sessions.create_signin_link(session, account=account)
        )
        return raw, link


async def _bootstrap(settings: Any) -> tuple[str, str] | None:
    from dxgl.runtime import Runtime

    rt = await Runtime.start(settings)
    try:
        return await bootstrap_local_account(rt)
    finally:
        await rt.close()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from dxgl.app import create_app

    settings = get_settings()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    logging.basicConfig(level=settings.log_level.upper())
    if not settings.database_url:
        created = _run(_bootstrap, settings)
        if created:
            raw, link = created
            print("Created the local account local@dxgl.local. Its API token (shown once, store it now):")
            print(raw)
            print(
                "Open the portal with this one-time sign-in link (valid 15 minutes; later: dxgl accounts signin-link):"
            )
            print(link, flush=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)
    return 0


def _password_from_stdin() -> str:
    """The first line of standard input, without its line ending (never a command-line argument:
    those show in ``ps`` and shell history)."""
    from dxgl.services import sessions

    return sessions.validate_password(sys.stdin.readline().rstrip("\r\n"))


def cmd_accounts_create(args: argparse.Namespace) -> int:
    from dxgl.services import accounts

    password = _password_from_stdin() if args.password_stdin else None

    async def action(session: Any) -> None:
        free = args.free_credits if args.free_credits is not None else get_settings().free_credits_for_new_accounts
        account = await accounts.create_account(session, email=args.email, paid_credits=args.credits, free_credits=free)
        if password is not None:
            await accounts.set_password(session, account=account, password=password)
        print(
            f"created account {account.id} <{account.email}> credits={account.paid_credits} free={account.free_credits}"
            + (" with a portal password" if password is not None else "")
        )

    _run(_with_runtime, action)
    return 0


def cmd_accounts_set_password(args: argparse.Namespace) -> int:
    from dxgl.services import accounts

    password = _password_from_stdin()

    async def action(session: Any) -> None:
        account = await accounts.get_by_email(session, args.email)
        await accounts.set_password(session, account=account, password=password)
        print(f"set the portal password of {account.email}; its portal sessions were signed out")

    _run(_with_runtime, action)
    return 0


def cmd_accounts_signin_link(args: argparse.Namespace) -> int:
    from dxgl.services import accounts, sessions

    async def action(session: Any) -> str:
        account = await accounts.get_by_email(session, args.email)
        raw = await sessions.create_signin_link(session, account=account)
        return sessions.signin_url(get_settings().resolved_public_url, raw)

    link = _run(_with_runtime, action)
    print(f"one-time portal sign-in link for {args.email}, valid {sessions.LINK_TTL.total_seconds() / 60:g} minutes:")
    print(link)  # the link is the last line (scripts read it)
    return 0


def cmd_accounts_suspend(args: argparse.Namespace) -> int:
    from dxgl.services import accounts

    async def action(session: Any) -> None:
        account = await accounts.get_by_email(session, args.email)
        await accounts.set_status(session, account=account, status="suspended")
        print(f"suspended {account.email}")

    _run(_with_runtime, action)
    return 0


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from dxgl.services import accounts, auth

    async def action(session: Any) -> None:
        account = await accounts.get_by_email(session, args.email)
        token, raw = await auth.create_token(
            session, account=account, scopes=auth.parse_scopes(args.scopes), expires_in_seconds=args.expires_in
        )
        print(f"token {token.prefix}... for {account.email} scopes={token.scopes.replace(' ', ',')}")
        print("store it now: it is not shown again")
        print(raw)  # the raw token is the last line (scripts read it)

    _run(_with_runtime, action)
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from dxgl.services import auth

    async def action(session: Any) -> int:
        return await auth.revoke_tokens(session, prefix=args.prefix)

    count = _run(_with_runtime, action)
    print(f"revoked {count} token(s)")
    return 0 if count else 1


def cmd_credits_grant(args: argparse.Namespace) -> int:
    from dxgl.services import accounts

    async def action(session: Any) -> None:
        account = await accounts.get_by_email(session, args.email)
        await accounts.grant_credits(session, account=account, paid=args.amount, note="granted by CLI")
        print(f"{account.email}: credits={account.paid_credits} free={account.free_credits}")

    _run(_with_runtime, action)
    return 0


def cmd_overlays_publish(args: argparse.Namespace) -> int:
    """Publish a system overlay: every account can use it, none can delete it."""
    from pathlib import Path

    from dxgl.runtime import Runtime
    from dxgl.services import overlays
    from dxgl.services.uploads import HashingWriter

    async def run() -> str:
        rt = await Runtime.start(get_settings())
        try:
            writer = HashingWriter(rt.storage.temp_path(), overlays.upload_limit(args.layer))
            with open(args.file, "rb") as src:
                while chunk := src.read(1024 * 1024):
                    writer.write(chunk)
            upload = writer.finish(Path(args.file).name)
            async with rt.unit_of_work() as session:
                overlay = await overlays.upload_overlay(
                    session,
                    None,
                    storage=rt.storage,
                    upload=upload,
                    layer=args.layer,
                    name=args.name or Path(args.file).stem,
                    description=args.description,
                    alignment=args.alignment,
                )
            return overlay.id
        finally:
            await rt.close()

    print(f"published system overlay {_run(run)}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from dxgl.render_cli import render_command

    return render_command(args.model, args.output, args.settings, args.size, args.environment_image)


def cmd_worker(args: argparse.Namespace) -> int:
    from worker import main as worker_main

    return worker_main()


def cmd_mcp(args: argparse.Namespace) -> int:
    from dxgl.mcp.stdio import main as mcp_main

    return mcp_main()


def cmd_storage_migrate(args: argparse.Namespace) -> int:
    from dxgl.storage_migrate import migrate_command

    return migrate_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dxgl", description="dxgl: 3D models to product videos")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (data dir from DXGL_DATA_DIR)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(fn=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=cmd_migrate)
    sub.add_parser("worker", help="run an arq render worker (needs DXGL_REDIS_URL)").set_defaults(fn=cmd_worker)

    sub.add_parser("mcp", help="an MCP server on stdio for DXGL_API_URL with DXGL_TOKEN").set_defaults(fn=cmd_mcp)
    stor = sub.add_parser("storage").add_subparsers(dest="action", required=True)
    smigrate = stor.add_parser("migrate", help="copy a local folder's blobs into DXGL_STORAGE_URL (resumable)")
    smigrate.add_argument(
        "--from", dest="source", default=None, help="the local files folder (default: DXGL_DATA_DIR/files)"
    )
    smigrate.set_defaults(fn=cmd_storage_migrate)

    acc = sub.add_parser("accounts").add_subparsers(dest="action", required=True)
    create = acc.add_parser("create")
    create.add_argument("--email", required=True)
    create.add_argument("--credits", type=int, default=0)
    create.add_argument("--free-credits", type=int, default=None)
    create.add_argument(
        "--password-stdin", action="store_true", help="read a portal password (at least 10 characters) from stdin"
    )
    create.set_defaults(fn=cmd_accounts_create)
    setpw = acc.add_parser("set-password", help="set the portal password, read from stdin (signs out its sessions)")
    setpw.add_argument("--email", required=True)
    setpw.add_argument("--password-stdin", action="store_true", required=True, help="read the password from stdin")
    setpw.set_defaults(fn=cmd_accounts_set_password)
    slink = acc.add_parser("signin-link", help="print a one-time portal sign-in link (valid 15 minutes)")
    slink.add_argument("--email", required=True)
    slink.set_defaults(fn=cmd_accounts_signin_link)
    suspend = acc.add_parser("suspend")
    suspend.add_argument("--email", required=True)
    suspend.set_defaults(fn=cmd_accounts_suspend)

    tok = sub.add_parser("tokens").add_subparsers(dest="action", required=True)
    tcreate = tok.add_parser("create")
    tcreate.add_argument("--email", required=True)
    tcreate.add_argument("--scopes", default=None, help="comma-separated; default: every scope")
    tcreate.add_argument("--expires-in", type=int, default=None, metavar="SECONDS")
    tcreate.set_defaults(fn=cmd_tokens_create)
    trevoke = tok.add_parser("revoke")
    trevoke.add_argument("prefix")
    trevoke.set_defaults(fn=cmd_tokens_revoke)

    cred = sub.add_parser("credits").add_subparsers(dest="action", required=True)
    grant = cred.add_parser("grant")
    grant.add_argument("--email", required=True)
    grant.add_argument("amount", type=int)
    grant.set_defaults(fn=cmd_credits_grant)

    ovl = sub.add_parser("overlays").add_subparsers(dest="action", required=True)
    publish = ovl.add_parser("publish", help="publish a system overlay (PNG/JPEG/WebP) for every account")
    publish.add_argument("file")
    publish.add_argument(
        "--layer", default=OverlayLayer.BACKGROUND.value, choices=[layer.value for layer in OverlayLayer]
    )
    publish.add_argument("--name", default=None)
    publish.add_argument("--description", default=None)
    publish.add_argument("--alignment", default=DEFAULT_ALIGNMENT.value)
    publish.set_defaults(fn=cmd_overlays_publish)

    render = sub.add_parser("render", help="render a model file locally (no server needed)")
    render.add_argument("model")
    render.add_argument("-o", "--output", required=True)
    render.add_argument("--settings", default=None, help="renderSettings as JSON")
    render.add_argument("--size", default=None, help="WxH, overrides the tier's size")
    render.add_argument("--environment-image", default=None, help="a local .hdr / .exr to light with")
    render.set_defaults(fn=cmd_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except DxglError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
