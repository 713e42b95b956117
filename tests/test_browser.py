"""One real browser run: `streamlit run app.py` on a loopback port, Chromium through Playwright,
upload a valid file, import it, see FINISHED. The screenshot stays in test-artifacts/."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from toolkit.demo import make_demo_file

from app_helpers import ROOT, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (CI installs it)"),
]


@pytest.fixture
def streamlit_app(live_service) -> Iterator[str]:
    """The app served by `streamlit run` on 127.0.0.1, talking to the live service."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    env = {**os.environ, "TOOLKIT_API_URL": live_service.url, "TOOLKIT_API_KEY": live_service.api_key,
           "TOOLKIT_API": "portal"}
    log = open(ARTIFACTS / "browser-streamlit.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "streamlit exited; see test-artifacts/browser-streamlit.log"
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "streamlit did not come up within 60 s"
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def test_upload_import_and_see_finished_in_chromium(streamlit_app, live_service, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    file = make_demo_file(random.Random(5), workspace="ws-browser", entity="customer", rows=12)
    path = tmp_path / file.name
    path.write_text(file.data, encoding="utf-8")
    screenshot = ARTIFACTS / "browser-import-finished.png"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(streamlit_app, wait_until="domcontentloaded")
            expect(page.get_by_role("heading", name="Validate & import")).to_be_visible(timeout=60_000)
            expect(page.get_by_text(live_service.url)).to_be_visible()  # the sidebar names the API

            page.locator("input[type=file]").set_input_files(str(path))
            expect(page.get_by_text("is valid: 12 data rows")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("customer_code").first).to_be_visible()

            page.get_by_role("button", name="Import", exact=True).click()
            expect(page.get_by_text("Every row was applied.")).to_be_visible(timeout=90_000)
            expect(page.get_by_text("FINISHED", exact=True).first).to_be_visible()
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000

