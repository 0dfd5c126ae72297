"""Retakes docs/images/dashboard.png, the README's picture of the dashboard: the demo show
(manage.py demo_data) as its approver sees it, with the first episode open.

    .venv/bin/python -m tests.readme_screenshot

Runs a server of its own on a throwaway database, in headless Chromium like the browser tests.
"""

import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.browser import launch, log_in
from tests.service_database import ServiceDatabase
from tests.service_process import ROOT, Server, manage, manage_command

PICTURE = ROOT / "docs" / "images" / "dashboard.png"
PASSWORD = "harbour-lights-demo"
FIRST_EPISODE = (
    "from episodes.models import Episode; print(Episode.objects.get(episode_number=1).pk)"
)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = ServiceDatabase(Path(tmp) / "var", DEMO_PASSWORD=PASSWORD)
        manage(database.env, "collectstatic", "--noinput", "--verbosity", "0")
        manage(database.env, "demo_data")
        server = Server(database.env, command=manage_command("serve", "--concurrency", "1"))
        server.start()
        try:
            _photograph(server.http)
        finally:
            server.stop()
            database.drop()
    print(f"Wrote {PICTURE.relative_to(ROOT)}.")


def _photograph(base_url: str) -> None:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        log_in(page, base_url, "carol", PASSWORD)
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        page.get_by_role("link", name="The Night Ferry", exact=True).click()
        detail = page.locator("#episode-detail")
        expect(detail.get_by_role("heading", name="The Night Ferry")).to_be_visible()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=PICTURE, full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
