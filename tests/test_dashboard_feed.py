"""The activity feed in headless Chromium reads as people write: names rather than user ids,
field labels and lists, mappings as `key: value` pairs, moments in the reader's time zone,
downloads left out until asked for (in the feed and in an episode's history), and each row a
link to what it is about."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests import test_dashboard_browser as dashboard
from tests.service_process import manage
from tests.test_dashboard_browser import unique

# The dashboard tests' service, browser and logged-in users, started once for this module.
service = dashboard.service
browser = dashboard.browser
sessions = dashboard.sessions
open_dashboard = dashboard.open_dashboard
_patient_expectations = dashboard._patient_expectations

pytestmark = pytest.mark.server

# A file of the episode, downloaded once, as another process would.
DOWNLOADED = """
from episodes.files import services
from episodes.models import Episode
episode = Episode.objects.get(pk={episode_id!r})
stored = services.store_generated_file(
    episode=episode, name="notes.txt", content=b"take one", content_type="text/plain"
)
services.record_download(stored)
"""


def test_the_feed_names_people_lists_values_hides_downloads_and_links_rows(open_dashboard, service):
    title = unique("Coastal")
    episode = service.api(
        "director", "POST", "/api/v1/episodes/", {"title": title, "categories": ["drama"]}
    )
    manage(service.database.env, "shell", "-c", DOWNLOADED.format(episode_id=episode["id"]))
    page = open_dashboard()
    feed = page.locator("#activity-list > li")
    expect(feed.filter(has_text="notes.txt").first).to_be_visible()
    expect(page.locator('#activity-list > li[data-action="download"]')).to_have_count(0)

    page.get_by_label("Show downloads").check()
    downloaded = page.locator('#activity-list > li[data-action="download"]')
    expect(downloaded).to_have_count(1)
    expect(downloaded).to_contain_text("downloaded")
    page.get_by_label("Show downloads").uncheck()
    expect(downloaded).to_have_count(0)

    service.api(
        "editor",
        "PATCH",
        f"/api/v1/episodes/{episode['id']}/",
        {"categories": ["drama", "coastal"]},
    )
    changed = feed.first
    expect(changed).to_contain_text("updated")
    expect(changed).to_contain_text("updated by: director → editor")
    expect(changed).to_contain_text("categories: drama → drama, coastal")
    expect(changed.locator("time")).to_have_text(re.compile("now|sec|min"))

    changed.get_by_role("link", name=title).click()
    expect(page).to_have_url(re.compile(f"#episode/{episode['id']}$"))
    expect(page.locator("#episode-detail")).to_be_visible()


# Kathmandu is 5 h 45 min ahead of UTC: its minutes are never UTC's.
ZONE = "Asia/Kathmandu"


def test_a_moment_reads_in_the_browsers_time_zone(browser, sessions, service):
    episode = service.create_episode("director", unique("Gone"))
    context = browser.new_context(
        storage_state=sessions["editor"], timezone_id=ZONE, locale="en-US"
    )
    try:
        page = context.new_page()
        page.goto(f"{service.server.http}/dashboard/#episode/{episode['id']}")
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        expect(page.locator("#detail-fields")).to_contain_text("draft")
        service.api("director", "DELETE", f"/api/v1/episodes/{episode['id']}/")

        query = f"/api/v1/activities/?action=delete&resource_id={episode['id']}"
        row = service.api("editor", "GET", query)["results"][0]
        change = next(c for c in row["field_changes"] if c["field"] == "deleted_at")
        assert change["kind"] == "datetime"
        moment = datetime.fromisoformat(change["after"]).astimezone(ZoneInfo(ZONE))
        day = f"{moment:%b} {moment.day}, {moment.year}"
        clock = f"{moment.hour % 12 or 12}:{moment:%M}"
        for line in (
            page.locator("#activity-list > li", has_text=episode["title"]).first,
            page.locator("#detail-activity > li").first,
        ):
            detail = line.locator(".detail")
            expect(detail).to_contain_text(re.compile(f"deleted at: — → {day}, {clock}"))
            expect(detail).not_to_contain_text("+00:00")
            expect(detail).not_to_contain_text("UTC")
    finally:
        context.close()


def test_a_jobs_result_reads_as_key_value_pairs(open_dashboard, service):
    episode = service.create_episode("director", unique("Measured"))
    page = open_dashboard("editor", path=f"#episode/{episode['id']}")
    dashboard.upload_from_panel(page, "notes.txt")

    page.locator("#activity-resource").select_option("job")
    completed = page.locator('#activity-list > li[data-action="complete"]').first
    expect(completed).to_contain_text("result: — → checksum verified: yes")
    expect(completed).not_to_contain_text("{")


def test_an_episodes_history_leaves_downloads_out_until_asked_for(open_dashboard, service):
    episode = service.create_episode("director", unique("Fetched"))
    manage(service.database.env, "shell", "-c", DOWNLOADED.format(episode_id=episode["id"]))
    page = open_dashboard("editor", path=f"#episode/{episode['id']}")
    uploads = page.locator('#detail-activity > li[data-action="upload"]')
    downloads = page.locator('#detail-activity > li[data-action="download"]')
    expect(uploads).to_have_count(1)
    expect(downloads).to_have_count(0)

    include = page.get_by_label("Include downloads")
    include.check()
    expect(downloads).to_have_count(1)
    expect(downloads).to_contain_text("downloaded")
    include.uncheck()
    expect(downloads).to_have_count(0)

    # Live: another file uploaded and downloaded shows as its upload only.
    manage(service.database.env, "shell", "-c", DOWNLOADED.format(episode_id=episode["id"]))
    expect(uploads).to_have_count(2)
    expect(downloads).to_have_count(0)
    include.check()
    expect(downloads).to_have_count(2)
