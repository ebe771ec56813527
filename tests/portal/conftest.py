"""Portal browser tests: the real service (``dxgl serve``, embedded default, tiny renders) in a
subprocess, driven by Playwright through Debian's chromium (``/usr/bin/chromium``; Playwright's own
browser download is not used). Without chromium these tests are skipped, except in CI (``CI=true``),
where a missing browser is a failure.

Every module here is marked ``portal`` (registered below) and ``slow``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.assets import MODELS_DIR
from tests.browser import require_chromium
from tests.live_server import DXGL, ROOT, ServeProcess, clean_env

PASSWORD = "correct horse battery staple"
SCREENSHOT_DIR = Path(os.environ.get("DXGL_SCREENSHOT_DIR") or ROOT / "tests" / "portal" / "screenshots")
DUCK = MODELS_DIR / "Duck.glb"
BOX = MODELS_DIR / "BoxTextured.glb"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "portal: the portal web app in a real browser (chromium + Playwright)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.portal)
            item.add_marker(pytest.mark.slow)


@dataclass
class Account:
    email: str
    password: str
    token: str


class Service:
    """One ``dxgl serve`` for the whole session, plus its command line."""

    def __init__(self, data_dir: Path) -> None:
        env = clean_env(
            DXGL_DATA_DIR=str(data_dir),
            DXGL_RENDER_MAX_SIZE="160",
            DXGL_RENDER_MAX_LENGTH="1",
            DXGL_SYSTEM_PREVIEW="0",
            DXGL_WS_RECHECK_SECONDS="2",
            EGL_PLATFORM=os.environ.get("EGL_PLATFORM", "surfaceless"),
        )
        self.proc = ServeProcess(env)
        self.proc.env["DXGL_PUBLIC_URL"] = self.proc.url
        self.url = self.proc.url
        self.accounts: dict[str, Account] = {}

    def start(self) -> Service:
        self.proc.start()
        return self

    def stop(self) -> None:
        self.proc.stop()

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*DXGL, *args],
            cwd=ROOT,
            env=self.proc.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"dxgl {' '.join(args)} failed: {done.stdout}\n{done.stderr}"
        return done.stdout

    def account(self, name: str, *, credits: int = 50) -> Account:
        """A new account (created once per name) with a portal password, credits and an API token."""
        if name not in self.accounts:
            email = f"{name}-{int(time.time() * 1000)}@example.com"
            self.cli(
                "accounts",
                "create",
                "--email",
                email,
                "--credits",
                str(credits),
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )
            token = self.cli("tokens", "create", "--email", email).strip().splitlines()[-1].strip()
            self.accounts[name] = Account(email, PASSWORD, token)
        return self.accounts[name]

    def signin_link(self, email: str) -> str:
        return self.cli("accounts", "signin-link", "--email", email).strip().splitlines()[-1].strip()

    def api(self, account: Account) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {account.token}"}, timeout=30)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return require_chromium()


# Package scope, not session: Playwright's sync API keeps its event loop running in this thread
# while it is open, and every async test after the portal's would find a loop already running.
@pytest.fixture(scope="package")
def service(chromium_path: str) -> Iterator[Service]:
    with tempfile.TemporaryDirectory(prefix="dxgl-portal-") as tmp:
        svc = Service(Path(tmp) / "data").start()
        try:
            yield svc
        finally:
            svc.stop()


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium_path,
            args=[
                "--no-sandbox",
                "--autoplay-policy=no-user-gesture-required",
                "--use-gl=swiftshader",
                "--enable-unsafe-swiftshader",
            ],
        )
        try:
            yield b
        finally:
            b.close()


class PageErrors:
    """Console errors, page errors and CSP violations seen by a page."""

    def __init__(self) -> None:
        self.console: list[str] = []
        self.page: list[str] = []

    def attach(self, page: object) -> None:
        page.on("console", lambda m: m.type == "error" and self.console.append(m.text))
        page.on("pageerror", lambda e: self.page.append(str(e)))

    @property
    def csp(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]


@pytest.fixture
def new_page(browser: object, service: Service) -> Iterator[object]:
    """``new_page(**context_options)`` -> (page, errors); contexts are closed after the test."""
    contexts = []

    def make(**options: object) -> tuple[object, PageErrors]:
        context = browser.new_context(base_url=service.url, accept_downloads=True, **options)
        contexts.append(context)
        page = context.new_page()
        errors = PageErrors()
        errors.attach(page)
        return page, errors

    yield make
    for context in contexts:
        context.close()


def sign_in(page: object, service: Service, account: Account) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Models").wait_for()


def screenshot(page: object, name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def copy_file(src: Path, dst_dir: Path, name: str) -> Path:
    dst = dst_dir / name
    shutil.copyfile(src, dst)
    return dst
