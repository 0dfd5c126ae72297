"""The dashboard and its login page for keyboard and screen reader users: axe-core finds no
serious or critical violation on them, every action is reachable and usable from the keyboard,
and live updates leave the keyboard focus where it was."""

# The dashboard tests' fixtures (one server and browser for this module), imported by name.
# ruff: noqa: F811

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import require_installed
from tests.service_process import ROOT
from tests.test_dashboard_browser import (  # noqa: F401
    _patient_expectations,
    browser,
    long_job,
    open_dashboard,
    service,
    sessions,
    unique,
)

pytestmark = pytest.mark.server

# .ci/run installs the version .ci/axe/package.json pins and names its script in AXE_CORE_JS.
AXE_CORE_JS = Path(
    os.environ.get("AXE_CORE_JS", ROOT / ".ci" / "axe" / "node_modules" / "axe-core" / "axe.min.js")
)
SERIOUS = {"serious", "critical"}


def require_axe_core() -> None:
    require_installed(
        AXE_CORE_JS,
        f"axe-core is not installed at {AXE_CORE_JS} (.ci/run installs it; "
        "or npm install --prefix .ci/axe): the accessibility checks did not run",
    )


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line per element.

    Evaluated over the DevTools protocol rather than added as a script tag, so the page's own
    script policy does not stand in the way."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE_CORE_JS.read_text())
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at {node['target']}"
        for violation in results["violations"]
        if violation["impact"] in SERIOUS
        for node in violation["nodes"]
    ]


def test_axe_finds_nothing_serious_on_the_login_page(browser, service):
    require_axe_core()
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{service.server.http}/dashboard/")
    expect(page.get_by_label("Username")).to_be_visible()
    assert serious_violations(page) == []

    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill("not a password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("Username")).to_be_visible()
    assert serious_violations(page) == []
    context.close()


def test_axe_finds_nothing_serious_on_the_dashboard_in_use(open_dashboard, service):
    require_axe_core()
    episode = service.create_episode("editor", unique("Audited"))
    service.api("editor", "PATCH", f"/api/v1/episodes/{episode['id']}/", {"status": "pending"})
    job = long_job(service, "editor", episode)
    page = open_dashboard(path=f"#episode/{episode['id']}")
    expect(
        page.locator("#episode-detail").get_by_role("heading", name=episode["title"])
    ).to_be_visible()
    expect(page.locator("#activity-list > li").first).to_be_visible()
    expect(page.locator(f'#job-list > li[data-id="{job["id"]}"]')).to_have_attribute(
        "data-status", "running"
    )
    expect(page.locator("#detail-activity > li").first).to_be_visible()
    assert serious_violations(page) == []

    page.get_by_role("button", name=re.compile("^Notifications")).click()
    expect(page.locator("#notification-panel")).to_be_visible()
    assert serious_violations(page) == []
    service.api("editor", "POST", f"/api/v1/jobs/{job['id']}/cancel/")


def test_every_main_action_works_from_the_keyboard(open_dashboard, service):
    title = unique("Keyed")
    episode = service.create_episode("editor", title)
    job = long_job(service, "editor", episode)
    page = open_dashboard()
    link = page.locator("#episode-list").get_by_role("link", name=title)
    expect(link).to_be_visible()

    # A status filter, pressed with Space, then all episodes again with Enter.
    drafts = page.locator("#status-counts button", has=page.locator('[data-status="draft"]'))
    drafts.focus()
    page.keyboard.press("Space")
    expect(drafts).to_have_attribute("aria-pressed", "true")
    everything = page.locator("#status-counts button", has=page.locator('[data-status="all"]'))
    everything.focus()
    page.keyboard.press("Enter")
    expect(everything).to_have_attribute("aria-pressed", "true")

    # An episode opened with Enter; Follow toggled with Space; Close returns to its link.
    link.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#detail-title")).to_be_focused()
    expect(page.locator("#detail-title")).to_have_text(title)
    follow = page.locator("#follow")
    follow.focus()
    page.keyboard.press("Space")
    expect(follow).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Tab")
    expect(page.locator("#detail-close")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#episode-detail")).to_be_hidden()
    expect(link).to_be_focused()

    # A filter chosen with the arrow keys, and a job cancelled with Enter.
    page.locator("#job-status").focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#job-status")).not_to_have_value("")
    page.keyboard.press("ArrowUp")
    expect(page.locator("#job-status")).to_have_value("")
    row = page.locator(f'#job-list > li[data-id="{job["id"]}"]')
    cancel = row.get_by_role("button", name=re.compile("^Cancel"))
    cancel.focus()
    page.keyboard.press("Enter")
    expect(row).to_have_attribute("data-status", "cancelled")
    # Where the pressed button went away, focus moves to the one that took its place.
    expect(row.get_by_role("button", name=re.compile("^Retry"))).to_be_focused()


def test_focus_stays_on_its_control_through_live_updates(open_dashboard, service):
    title = unique("Focused")
    episode = service.create_episode("editor", title)
    job = long_job(service, "editor", episode)
    page = open_dashboard()

    link = page.locator("#episode-list").get_by_role("link", name=title)
    link.focus()
    link.evaluate("el => { window.focusedBefore = el; }")
    service.api(
        "director", "PATCH", f"/api/v1/episodes/{episode['id']}/", {"title": f"{title} renamed"}
    )
    expect(
        page.locator("#episode-list").get_by_role("link", name=f"{title} renamed")
    ).to_be_focused()
    assert page.evaluate("document.activeElement === window.focusedBefore")

    row = page.locator(f'#job-list > li[data-id="{job["id"]}"]')
    cancel = row.get_by_role("button", name=re.compile("^Cancel"))
    cancel.focus()
    progress = row.get_by_role("progressbar")
    before = int(progress.get_attribute("aria-valuenow") or 0)
    expect(progress).not_to_have_attribute("aria-valuenow", str(before))
    service.create_episode("director", unique("Meanwhile"))
    expect(page.locator("#activity-list > li").first).to_contain_text("Meanwhile")
    expect(cancel).to_be_focused()
    service.api("editor", "POST", f"/api/v1/jobs/{job['id']}/cancel/")
