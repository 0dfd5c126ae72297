"""Working on episodes from the dashboard in headless Chromium: creating one, editing its
fields, a change made elsewhere showing in the open episode, two pages editing one episode,
what a viewer is not offered, and the list's filters surviving a reload."""

import re
import urllib.error

import pytest
from playwright.sync_api import Page, expect

from tests import test_dashboard_browser as dashboard
from tests.service_process import manage
from tests.test_dashboard_browser import unique
from tests.test_files_api import png

# The dashboard tests' service, browser and logged-in users, started once for this module.
service = dashboard.service
browser = dashboard.browser
sessions = dashboard.sessions
open_dashboard = dashboard.open_dashboard
_patient_expectations = dashboard._patient_expectations

pytestmark = pytest.mark.server


def edit(page: Page, **values: str) -> None:
    page.locator("#detail-actions").get_by_role("button", name="Edit").click()
    form = page.locator("#edit-form")
    for name, value in values.items():
        form.locator(f'[name="{name}"]').fill(value)


def test_an_editor_creates_an_episode_and_edits_its_title_and_categories(open_dashboard, service):
    page = open_dashboard("editor")
    page.get_by_role("button", name="New episode").click()
    form = page.locator("#new-episode-form")
    form.locator('[name="season_number"]').fill("0")
    form.get_by_role("button", name="Create").click()
    expect(form.locator("#new-title-error")).not_to_be_empty()
    expect(form.locator("#new-season-number-error")).to_contain_text("1")

    title = unique("Made on the page")
    form.locator('[name="title"]').fill(title)
    form.locator('[name="season_number"]').fill("2")
    form.locator('[name="categories"]').fill("drama, pilot")
    form.get_by_role("button", name="Create").click()
    expect(page.locator("#detail-title")).to_have_text(title)
    expect(page).to_have_url(re.compile(r"#episode/[0-9a-f-]{36}$"))
    episode_id = page.url.rsplit("/", 1)[1]

    edit(page, title=f"{title} (edited)", categories="drama, finale")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#detail-title")).to_have_text(f"{title} (edited)")
    expect(page.locator("#detail-fields")).to_contain_text("drama, finale")
    episode = service.api("editor", "GET", f"/api/v1/episodes/{episode_id}/")
    assert (episode["title"], episode["categories"], episode["season_number"]) == (
        f"{title} (edited)",
        ["drama", "finale"],
        2,
    )


def test_the_apis_field_errors_on_an_edit_show_next_to_their_fields(open_dashboard, service):
    """Values the browser itself would refuse (an empty title, season 0) go to the API, whose
    answer is the one shown, field by field; nothing is saved."""
    title = unique("Corrected")
    episode = service.create_episode("director", title)
    page = open_dashboard("editor", path=f"#episode/{episode['id']}")
    expect(page.locator("#detail-title")).to_have_text(title)
    form = page.locator("#edit-form")

    edit(page, title="", season_number="0")
    page.get_by_role("button", name="Save").click()
    expect(form.locator("#edit-title-error")).to_contain_text("blank")
    expect(form.locator("#edit-season-number-error")).to_contain_text("1")
    expect(form.locator('[name="title"]')).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#edit-episode-number-error")).to_be_hidden()
    expect(page.locator("#detail-message")).to_contain_text("correct the marked fields")

    form.locator('[name="title"]').fill("x" * 256)
    form.locator('[name="season_number"]').fill("3")
    page.get_by_role("button", name="Save").click()
    expect(form.locator("#edit-title-error")).to_contain_text("255")
    expect(form.locator("#edit-season-number-error")).to_be_hidden()
    expect(form).to_be_visible()
    url = f"/api/v1/episodes/{episode['id']}/"
    after = service.api("director", "GET", url)
    assert (after["title"], after["season_number"], after["version"]) == (
        title,
        None,
        episode["version"],
    )


def test_a_viewer_is_offered_no_new_episode_save_or_move(open_dashboard, service):
    episode = service.create_episode("director", unique("Looked at"))
    page = open_dashboard("viewer", path=f"#episode/{episode['id']}")
    expect(page.locator("#standing")).to_have_text(" (viewer)")
    expect(page.locator("#detail-fields")).to_contain_text("draft")
    for name in ("New episode", "Save", "Edit", "Submit for review"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.locator("#upload-form")).to_be_hidden()
    expect(page.get_by_role("button", name="Export these episodes")).to_have_count(0)


def test_a_change_made_elsewhere_shows_in_the_open_episode_within_two_seconds(
    open_dashboard, service
):
    episode = service.create_episode("director", unique("Watched"))
    page = open_dashboard("viewer", path=f"#episode/{episode['id']}")
    fields = page.locator("#detail-fields")
    expect(fields).to_contain_text("draft")

    service.api(
        "director",
        "PATCH",
        f"/api/v1/episodes/{episode['id']}/",
        {"categories": ["news", "live"], "description": "Told elsewhere"},
    )
    expect(fields).to_contain_text("news, live", timeout=2000)
    expect(fields).to_contain_text("Told elsewhere", timeout=2000)


# Made while the server is down, as another process would.
CHANGE_WHILE_DOWN = """
from django.contrib.auth import get_user_model
from episodes import selectors, services
director = get_user_model().objects.get(username="director")
episode = selectors.episode_list().get(pk={id!r})
services.update_episode(
    episode,
    user=director,
    data={{"categories": ["offline", "caught-up"], "description": "Written while you were away"}},
)
"""


def test_the_open_episode_shows_a_change_made_while_the_page_was_disconnected(
    open_dashboard, service
):
    episode = service.create_episode("director", unique("Away"))
    page = open_dashboard("viewer", path=f"#episode/{episode['id']}")
    fields = page.locator("#detail-fields")
    expect(fields).to_contain_text("draft")
    with service.down():
        expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        manage(service.database.env, "shell", "-c", CHANGE_WHILE_DOWN.format(id=episode["id"]))

    # Reconnect attempts back off up to 30 s apart (connection.js).
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=45_000)
    expect(fields).to_contain_text("offline, caught-up", timeout=30_000)
    expect(fields).to_contain_text("Written while you were away")
    expect(page.locator("#detail-activity > li").first).to_contain_text(
        "Written while you were away"
    )
    expect(page.locator("#detail-title")).to_have_text(episode["title"])


def test_the_second_of_two_pages_saving_one_episode_is_shown_the_conflict(open_dashboard, service):
    title = unique("Contested twice")
    episode = service.create_episode("director", title)
    path = f"#episode/{episode['id']}"
    first, second = open_dashboard("editor", path=path), open_dashboard("approver", path=path)
    for page in (first, second):
        expect(page.locator("#detail-title")).to_have_text(title)
    edit(first, categories="first")
    edit(second, categories="second", description="From the second page")

    first.get_by_role("button", name="Save").click()
    expect(first.locator("#detail-fields")).to_contain_text("first")
    second.get_by_role("button", name="Save").click()

    conflict = second.locator("#edit-conflict")
    expect(conflict).to_contain_text("Someone else changed this episode")
    expect(conflict.locator("tr", has_text="Categories")).to_contain_text(
        re.compile("first.*second")
    )
    url = f"/api/v1/episodes/{episode['id']}/"
    assert service.api("director", "GET", url)["categories"] == ["first"]

    conflict.get_by_role("button", name="Reapply my changes").click()
    expect(second.locator("#detail-fields")).to_contain_text("From the second page")
    after = service.api("director", "GET", url)
    assert (after["categories"], after["description"]) == (["second"], "From the second page")


def test_the_episode_filters_are_kept_in_the_address_survive_a_reload_and_export(
    open_dashboard, service
):
    category = unique("rare").replace(" ", "-")
    needle = unique("needle").replace(" ", "")

    def episode(title: str, air_date: str, status: str = "pending") -> dict:
        body = {"title": title, "season_number": 7, "categories": [category], "air_date": air_date}
        made = service.api("director", "POST", "/api/v1/episodes/", body)
        if status != "draft":
            url = f"/api/v1/episodes/{made['id']}/"
            service.api("director", "PATCH", url, {"status": status})
        return made

    match = episode(f"Filtered in {needle}", "2027-03-10")
    episode(f"Filtered out by date {needle}", "2027-05-01")
    episode(f"Filtered out by status {needle}", "2027-03-11", status="draft")
    episode(unique("Filtered out by search"), "2027-03-12")
    page = open_dashboard("editor")
    filters = page.locator("#episode-filters")
    filters.locator('[name="search"]').fill(needle.upper())
    filters.locator('[name="category"]').fill(category)
    filters.locator('[name="season_number"]').fill("7")
    filters.locator('[name="air_date_after"]').fill("2027-03-01")
    filters.locator('[name="air_date_before"]').fill("2027-03-31")
    filters.get_by_role("button", name="Find").click()
    rows = page.locator("#episode-list > li")
    expect(rows).to_have_count(2)
    pending = page.locator("#status-counts").get_by_role("button", name=re.compile("^pending"))
    pending.click()
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(f"category={category}"))
    expect(page).to_have_url(re.compile(f"search={needle.upper()}"))
    expect(page).to_have_url(re.compile("status=pending"))

    page.reload()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", match["id"])
    expect(filters.locator('[name="search"]')).to_have_value(needle.upper())
    expect(filters.locator('[name="air_date_before"]')).to_have_value("2027-03-31")
    expect(pending).to_have_attribute("aria-pressed", "true")
    everything = page.locator("#status-counts").get_by_role("button", name=re.compile("^all"))
    expect(everything).to_have_attribute("aria-pressed", "false")

    page.get_by_role("button", name="Export these episodes").click()
    expect(page.locator("#job-list")).to_contain_text("episodes_export")
    jobs = service.api("editor", "GET", "/api/v1/jobs/?job_type=episodes_export")["results"]
    wanted = {
        "search": needle.upper(),
        "status": "pending",
        "category": category,
        "season_number": "7",
        "air_date_after": "2027-03-01",
        "air_date_before": "2027-03-31",
    }
    assert wanted in [job["payload"]["filters"] for job in jobs]


def test_with_if_match_required_the_page_saves_and_moves_an_episode(open_dashboard, service):
    """Every write the page sends is conditional, so a deployment that refuses any other
    (REQUIRE_IF_MATCH) serves it as well."""
    title = unique("Conditional")
    with service.configured(REQUIRE_IF_MATCH="true"):
        episode = service.create_episode("director", title)
        url = f"/api/v1/episodes/{episode['id']}/"
        with pytest.raises(urllib.error.HTTPError) as refused:
            service.api("director", "PATCH", url, {"title": "Unconditional"})
        assert refused.value.code == 428

        page = open_dashboard("approver", path=f"#episode/{episode['id']}")
        statuses: list[int] = []
        page.on("response", lambda response: statuses.append(response.status))
        expect(page.locator("#detail-title")).to_have_text(title)
        edit(page, title=f"{title} (saved)", categories="conditional")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#detail-title")).to_have_text(f"{title} (saved)")
        actions = page.locator("#detail-actions")
        actions.get_by_role("button", name="Submit for review").click()
        expect(page.locator("#detail-fields")).to_contain_text("pending")
        actions.get_by_role("button", name="Approve").click()
        expect(page.locator("#detail-fields")).to_contain_text("approved")
        expect(page.locator("#detail-message")).to_be_empty()

        after = service.api("director", "GET", url)
        assert (after["title"], after["categories"], after["status"]) == (
            f"{title} (saved)",
            ["conditional"],
            "approved",
        )
        assert 428 not in statuses


def test_an_editor_uploads_a_file_to_the_open_episode(open_dashboard, service):
    episode = service.create_episode("director", unique("With rushes"))
    page = open_dashboard("editor", path=f"#episode/{episode['id']}")
    dashboard.upload_from_panel(page, "notes.txt")
    files = service.api("editor", "GET", f"/api/v1/episodes/{episode['id']}/files/")
    assert [file["original_name"] for file in files["results"]] == ["notes.txt"]


def test_an_editor_renders_a_composition_from_the_open_episode(open_dashboard, service):
    episode = service.create_episode("director", unique("Thumbnailed"))
    page = open_dashboard("editor", path=f"#episode/{episode['id']}")
    for name in ("left.png", "right.png"):
        page.get_by_label("Add a file").set_input_files(
            {"name": name, "mimeType": "image/png", "buffer": png(640, 360)}
        )
        page.get_by_role("button", name="Upload").click()
        expect(page.locator("#detail-files")).to_contain_text(name)
    files = service.api("editor", "GET", f"/api/v1/episodes/{episode['id']}/files/")
    composition = service.api(
        "editor",
        "POST",
        "/api/v1/compositions/",
        {
            "episode": episode["id"],
            "name": "Main thumbnail",
            "layout": "split",
            "assets": [file["id"] for file in reversed(files["results"])],
            "formats": ["youtube"],
        },
    )
    page.reload()

    row = page.locator(f'li[data-id="{composition["id"]}"]')
    expect(row).not_to_contain_text("object")
    row.get_by_role("button", name="Render Main thumbnail").click()
    expect(page.locator("#job-list")).to_contain_text("thumbnail_render")
    jobs = service.api("editor", "GET", "/api/v1/jobs/?job_type=thumbnail_render")
    assert [job["payload"]["composition_id"] for job in jobs["results"]] == [composition["id"]]
