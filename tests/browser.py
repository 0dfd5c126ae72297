"""Headless Chromium for tests that use the service the way a person does, through its pages.

Debian's `chromium` package, driven by Playwright; never a browser build of Playwright's own.
Under CI a missing Chromium fails the tests; elsewhere they are skipped, saying why.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright

from tests.service_process import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def require_installed(path: Path, reason: str) -> None:
    """Skip without `path`, or fail under CI, where a check that did not run must not pass."""
    if path.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def require_chromium() -> None:
    require_installed(
        CHROMIUM,
        f"Chromium is not installed at {CHROMIUM} (Debian package chromium): "
        "the dashboard's browser tests did not run",
    )


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Through the login page, as a person would: the dashboard sends them there first."""
    page.goto(f"{base_url}/dashboard/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/dashboard/")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
