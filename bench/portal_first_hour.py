"""A new user's first hour with the portal, timed; prints one JSON object.

    EGL_PLATFORM=surfaceless .venv/bin/python bench/portal_first_hour.py [--screenshots DIR]

Starts ``dxgl serve`` on the embedded default exactly as ``./scripts/serve`` does (fresh data
folder, SQLite, in-process renders, system previews on, no render caps: the documented 1080p 6 s
first render), takes the sign-in link its first start prints, opens it in Debian's chromium
(Playwright), drops three GLBs on the Upload view, waits on the open page until each render is
``done`` (live status, no reload), plays one video, downloads its bundle and creates an API token,
checking that the token works. A figure to report, not a test (tests/portal/ holds the tests).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.assets import MODELS_DIR
from tests.live_server import ServeProcess, clean_env
from tests.portal.conftest import CHROMIUM
from tests.portal.test_portal import drop_files

MODELS = [MODELS_DIR / "Duck.glb", MODELS_DIR / "BoxTextured.glb", MODELS_DIR / "monkey.glb"]
TIMEOUT_MS = 600_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as data:
        env = clean_env(DXGL_DATA_DIR=data, EGL_PLATFORM="surfaceless")
        serve = ServeProcess(env).start()
        try:
            link = next(line.strip() for line in reversed(serve.lines) if "/auth/link?token=" in line)
            link = link[link.index("http") :]
            result = run(link, serve.url, args.screenshots, sync_playwright)
        finally:
            serve.stop()
    print(json.dumps(result, indent=2))


def run(link: str, base: str, shots: Path | None, sync_playwright) -> dict:
    out: dict = {"models": [m.name for m in MODELS]}

    def shot(page, name: str) -> None:
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(base_url=base, accept_downloads=True)
        page = context.new_page()
        page.goto(link)  # the printed link: a page naming the account, then its button signs in
        page.get_by_role("button", name="Sign in as").click()
        page.get_by_role("heading", name="Models").wait_for()
        out["signed_in_by_link"] = True
        page.goto("/#/upload")
        page.get_by_role("heading", name="Upload").wait_for()
        started = time.monotonic()
        drop_files(page, "[data-testid=dropzone]", MODELS)
        done_s = {}
        for model in MODELS:
            row = page.locator("li.upload", has_text=model.name)
            row.locator("[data-status=done]").wait_for(timeout=TIMEOUT_MS)
            done_s[model.name] = round(time.monotonic() - started, 1)
        out["drop_to_done_s"] = done_s
        shot(page, "first-hour-upload")
        row = page.locator("li.upload", has_text=MODELS[0].name)
        row.locator("a[href^='#/renders/']").click()
        page.locator("[data-testid=render-status][data-status=done]").wait_for()
        out["video_played"] = page.evaluate(
            """async () => {
                const v = document.querySelector("video[aria-label='Rendered video']");
                v.muted = true;
                await v.play();
                const t0 = v.currentTime;
                await new Promise((r) => setTimeout(r, 1000));
                return { t0, t1: v.currentTime, error: v.error && v.error.code };
            }"""
        )
        with page.expect_download() as info:
            page.locator("[data-testid=bundle]").click()
        bundle = Path(tempfile.mkdtemp()) / "bundle.zip"
        info.value.save_as(bundle)
        with zipfile.ZipFile(bundle) as zf:
            out["bundle_members"] = sorted(zf.namelist())
        shot(page, "first-hour-render")
        page.goto("/#/account")
        page.get_by_role("heading", name="New API token").wait_for()
        page.get_by_role("button", name="Create token").click()
        raw = page.get_by_test_id("raw-token").input_value()
        out["token_works"] = httpx.get(f"{base}/v1/account", headers={"Authorization": f"Bearer {raw}"}).status_code
        shot(page, "first-hour-token")
        browser.close()
    return out


if __name__ == "__main__":
    main()
