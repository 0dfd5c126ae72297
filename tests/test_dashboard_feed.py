"""The activity feed in headless Chromium reads as people write: names rather than user ids,
field labels and lists, downloads left out until asked for, and each row a link to what it
is about."""

import re

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
