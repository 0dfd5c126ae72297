"""The dashboard in headless Chromium against a running `manage.py serve`: logging in, live
updates of every panel, presence, a dropped connection, large lists, keyboard, a narrow
window, and the actions each role is offered. Screenshots of the main views go to
test-artifacts/screenshots/."""

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser import launch, log_in, require_chromium, screenshot
from tests.service_database import ServiceDatabase
from tests.service_process import Server, create_tokens, manage, manage_command
from tests.test_realtime_e2e import http

pytestmark = pytest.mark.server

USERS = (
    "editor",
    "director",
    "writer",  # concerned by nothing but what the notification test does
    "viewer",
    "approver",
    "newcomer",  # no role
    "promoted",  # a viewer whose roles a test changes while their page is open
)
# Two tests sign the editor in through the login page; the others start from sessions made
# for them (`sessions`).
EDITOR_PASSWORD = "editor-pass-3141"
STAFF = {"director"}
ROLE_OF = {
    "editor": "editor",
    "writer": "editor",
    "viewer": "viewer",
    "approver": "approver",
    "promoted": "viewer",
}
CREATE_USERS = "\n".join(
    [
        "from django.contrib.auth import get_user_model",
        "from django.contrib.auth.models import Group",
        "User = get_user_model()",
        f"User.objects.create_user('editor', password={EDITOR_PASSWORD!r})",
        *(
            f"User.objects.create_user({name!r}, is_staff={name in STAFF})"
            for name in USERS
            if name != "editor"
        ),
        *(
            f"Group.objects.get(name={role!r}).user_set.add(User.objects.get(username={name!r}))"
            for name, role in ROLE_OF.items()
        ),
    ]
)
# A session for each user, as the login page's sign-in makes one.
SIGN_IN = f"""
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
for user in get_user_model().objects.filter(username__in={USERS!r}):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    print("SESSION", user.username, cookie.key, cookie.value)
"""
# Made while the server is down, as another process would: the page must catch up on them.
CHANGES_WHILE_DOWN = """
from django.contrib.auth import get_user_model
from episodes import services
director = get_user_model().objects.get(username="director")
episode = services.create_episode(user=director, data={{"title": {title!r}}})
services.update_episode(episode, user=director, data={{"status": "pending"}})
"""
# More than a resumed subscription replays: the page is told to reload over REST instead.
SEED = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from episodes import services
from jobs import registry
from jobs.services import enqueue
editor = get_user_model().objects.get(username="editor")
tomorrow = timezone.now() + timedelta(days=1)
with transaction.atomic():
    for _ in range(200):
        enqueue(registry.get("diagnostic"), {}, user=editor, run_after=tomorrow)
    for number in range(100):
        episode = services.create_episode(user=editor, data={"title": f"Seeded {number}"})
        for take in range(9):
            services.update_episode(episode, user=editor, data={"description": f"take {take}"})
"""


class Service:
    def __init__(self, database: ServiceDatabase, server: Server) -> None:
        self.database = database
        self.server = server
        tokens = create_tokens(database.env, *((name, ROLE_OF.get(name)) for name in USERS))
        self.tokens = dict(zip(USERS, tokens, strict=True))

    def api(self, user: str, method: str, path: str, body: dict | None = None) -> dict:
        return http(self.server, method, path, self.tokens[user], body)

    def create_episode(self, user: str, title: str) -> dict:
        return self.api(user, "POST", "/api/v1/episodes/", {"title": title})

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """The server stopped meanwhile, then started again on the same port."""
        self.server.stop()
        try:
            yield
        finally:
            self.server.start()

    @contextlib.contextmanager
    def configured(self, **settings: str) -> Iterator[None]:
        """The server restarted with these settings in its environment, then as it was."""
        env = self.server.env
        self.server.stop()
        self.server.env = {**env, **settings}
        try:
            self.server.start()
            yield
        finally:
            self.server.stop()
            self.server.env = env
            self.server.start()


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Service]:
    require_chromium()
    database = ServiceDatabase(tmp_path_factory.mktemp("dashboard") / "var")
    manage(database.env, "collectstatic", "--noinput", "--verbosity", "0")
    manage(database.env, "shell", "-c", CREATE_USERS)
    server = Server(database.env, command=manage_command("serve", "--concurrency", "1")).start()
    try:
        yield Service(database, server)
    finally:
        server.stop()
        database.drop()


@pytest.fixture(scope="module")
def browser(service) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def sessions(service) -> dict[str, dict]:
    """Each user signed in once, for the browser's contexts to start from; signing in through
    the login page has tests of its own, and checking a password costs a second a user."""
    host = urlsplit(service.server.http).hostname
    states = {}
    for line in manage(service.database.env, "shell", "-c", SIGN_IN).splitlines():
        if line.startswith("SESSION "):
            _, user, name, value = line.split()
            cookie = {"name": name, "value": value, "domain": host, "path": "/"}
            cookie |= {"expires": -1, "httpOnly": True, "secure": False, "sameSite": "Lax"}
            states[user] = {"cookies": [cookie], "origins": []}
    assert sorted(states) == sorted(USERS)
    return states


@pytest.fixture
def open_dashboard(browser, sessions, service) -> Iterator[Callable[..., Page]]:
    """A function that opens the dashboard as a user in a context of its own; at the end of
    the test, no page may have thrown a script error."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def opener(user: str = "editor", width: int = 1280, height: int = 900, path: str = "") -> Page:
        context = browser.new_context(
            storage_state=sessions[user], viewport={"width": width, "height": height}
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{service.server.http}/dashboard/{path}")
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        return page

    yield opener
    for context in contexts:
        context.close()
    assert errors == []


@pytest.fixture(autouse=True, scope="module")
def _patient_expectations():
    # Jobs run in worker processes and notifications follow commits: allow a few seconds.
    expect.set_options(timeout=15_000)


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


def upload_from_panel(page: Page, name: str) -> None:
    """A short text file uploaded from the open episode's panel, once the panel lists it."""
    page.get_by_label("Add a file").set_input_files(
        {"name": name, "mimeType": "text/plain", "buffer": b"Scene one.\n"}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#detail-files")).to_contain_text(name)


def feed_ids(page: Page) -> list[str]:
    return page.locator("#activity-list > li").evaluate_all("rows => rows.map(r => r.dataset.id)")


def test_logging_in_leads_to_the_dashboard_where_a_new_episode_appears_live(browser, service):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, service.server.http, "editor", EDITOR_PASSWORD)
    expect(page.locator("#connection")).to_have_text(re.compile("Connected"))
    draft_count = page.locator('#status-counts [data-status="draft"]')
    expect(draft_count).to_have_text(re.compile(r"\d+"))
    drafts_before = int(draft_count.inner_text())

    title = unique("Live pilot")
    service.create_episode("director", title)

    first_entry = page.locator("#activity-list > li").first
    expect(first_entry).to_contain_text(title)
    expect(first_entry).to_contain_text("director")
    expect(first_entry.locator(".action")).to_have_text("created")
    expect(page.locator("#episode-list").get_by_role("link", name=title)).to_be_visible()
    expect(draft_count).to_have_text(str(drafts_before + 1))
    screenshot(page, "dashboard")
    context.close()
    assert errors == []


def test_the_bare_address_leads_to_the_login_page_then_to_the_dashboard(browser, service):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{service.server.http}/")
    expect(page).to_have_url(re.compile(r"/api-auth/login/\?next=/dashboard/$"))
    expect(page.get_by_role("heading", name="Episode Metadata")).to_be_visible()
    page.get_by_label("Username").fill("editor")
    page.get_by_label("Password").fill(EDITOR_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{service.server.http}/dashboard/")

    page.goto(f"{service.server.http}/")  # signed in now: straight on to the dashboard
    expect(page).to_have_url(f"{service.server.http}/dashboard/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    context.close()


def test_a_changed_episode_reads_as_its_changed_fields_and_the_feed_filters(
    open_dashboard, service
):
    page = open_dashboard()
    title = unique("Filtered")
    episode = service.create_episode("director", title)
    service.api("director", "PATCH", f"/api/v1/episodes/{episode['id']}/", {"status": "pending"})
    expect(page.locator("#activity-list > li").first).to_contain_text("status: Draft → Pending")

    page.get_by_label("Action").select_option("update")
    expect(page.locator("#activity-list .action").first).to_have_text("updated")
    expect(page.locator("#activity-list .action", has_text="create")).to_have_count(0)
    service.create_episode("director", unique("Not an update"))
    service.api("director", "PATCH", f"/api/v1/episodes/{episode['id']}/", {"status": "approved"})

    expect(page.locator("#activity-list > li").first).to_contain_text("Pending → Approved")
    expect(page.locator("#activity-list .action", has_text="create")).to_have_count(0)

    page.locator("#status-counts").get_by_role("button", name=re.compile("^approved")).click()
    listed = page.locator("#episode-list > li")
    expect(listed.filter(has_text=title)).to_have_count(1)
    expect(listed.filter(has_not_text="approved")).to_have_count(0)


def test_a_jobs_progress_bar_moves_and_the_job_completes(open_dashboard, service):
    page = open_dashboard()
    job = service.api(
        "editor",
        "POST",
        "/api/v1/jobs/",
        {"job_type": "diagnostic", "payload": {"seconds": 3, "steps": 6}},
    )
    row = page.locator(f'#job-list > li[data-id="{job["id"]}"]')
    bar = row.get_by_role("progressbar")

    page.wait_for_function(
        """id => {
            const bar = document.querySelector(`#job-list li[data-id="${id}"] [role=progressbar]`);
            const now = bar && Number(bar.getAttribute("aria-valuenow"));
            return now > 0 && now < 100;
        }""",
        arg=job["id"],
    )
    expect(row).to_have_attribute("data-status", "running")
    screenshot(page, "jobs")
    expect(row).to_have_attribute("data-status", "completed")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(row).to_contain_text("attempt 1 of")


def long_job(service: Service, user: str, episode: dict) -> dict:
    """A job that runs a minute unless cancelled, on an episode everyone with a role can read."""
    body = {"job_type": "diagnostic", "episode": episode["id"]}
    payload = {"seconds": 60, "steps": 60}
    return service.api(user, "POST", "/api/v1/jobs/", {**body, "payload": payload})


def test_cancel_and_retry_buttons_act_on_the_job(open_dashboard, service):
    page = open_dashboard()
    job = long_job(service, "editor", service.create_episode("editor", unique("Rendered")))
    row = page.locator(f'#job-list > li[data-id="{job["id"]}"]')
    expect(row).to_have_attribute("data-status", "running")

    row.get_by_role("button", name=re.compile("^Cancel")).click()
    expect(row).to_have_attribute("data-status", "cancelled")
    expect(row.get_by_role("button", name=re.compile("^Cancel"))).to_be_hidden()
    row.get_by_role("button", name=re.compile("^Retry")).click()
    expect(row).to_have_attribute("data-status", re.compile("pending|running"))

    not_theirs = open_dashboard("writer").locator(f'#job-list > li[data-id="{job["id"]}"]')
    expect(not_theirs).to_have_attribute("data-status", re.compile("pending|running"))
    expect(not_theirs.get_by_role("button")).to_have_count(0)
    staff_row = open_dashboard("director").locator(f'#job-list > li[data-id="{job["id"]}"]')
    staff_row.get_by_role("button", name=re.compile("^Cancel")).click()
    expect(not_theirs).to_have_attribute("data-status", "cancelled")
    expect(row).to_have_attribute("data-status", "cancelled")


def test_another_users_change_to_my_episode_raises_my_unread_count(open_dashboard, service):
    page = open_dashboard("writer")
    bell = page.locator("#unread-count")
    # Loaded, and empty: the list says so.
    expect(page.locator("#notification-list + .empty")).not_to_have_attribute("hidden", "")
    title = unique("Mine")
    episode = service.create_episode("writer", title)

    service.api("director", "PATCH", f"/api/v1/episodes/{episode['id']}/", {"status": "pending"})

    expect(bell).to_have_attribute("data-count", "1")
    page.get_by_role("button", name=re.compile("^Notifications")).click()
    notification = page.locator("#notification-list > li").first
    expect(notification).to_contain_text(title)
    expect(notification).to_have_attribute("data-unread", "true")
    screenshot(page, "notifications")
    notification.get_by_role("button", name=re.compile("^Mark read")).click()
    expect(bell).to_have_attribute("data-count", "0")
    expect(notification).to_have_attribute("data-unread", "false")

    service.api("director", "PATCH", f"/api/v1/episodes/{episode['id']}/", {"status": "approved"})
    expect(bell).to_have_attribute("data-count", "1")
    page.get_by_role("button", name="Mark all read").click()
    expect(bell).to_have_attribute("data-count", "0")


def test_a_second_user_opening_the_same_episode_appears_as_a_viewer(open_dashboard, service):
    title = unique("Watched")
    episode = service.create_episode("editor", title)
    page = open_dashboard()
    page.locator("#episode-list").get_by_role("link", name=title).click()
    detail = page.locator("#episode-detail")
    expect(detail.get_by_role("heading", name=title)).to_be_visible()
    expect(page.locator("#viewers")).to_have_text("Nobody else is viewing this episode.")

    other = open_dashboard("director", path=f"#episode/{episode['id']}")
    expect(other.locator("#viewers")).to_have_text("Also viewing: editor")
    expect(page.locator("#viewers")).to_have_text("Also viewing: director")
    follow = other.locator("#follow")
    follow_url = f"/api/v1/episodes/{episode['id']}/follow/"
    follow.click()
    expect(follow).to_have_attribute("aria-pressed", "true")
    expect(follow).to_have_text("Following")
    assert service.api("director", "GET", follow_url) == {"following": True}
    service.api("director", "PATCH", f"/api/v1/episodes/{episode['id']}/", {"status": "pending"})
    expect(detail.locator(".fields")).to_contain_text("pending")
    expect(page.locator("#detail-activity > li").first).to_contain_text("Draft → Pending")
    screenshot(page, "episode")

    follow.click()
    expect(follow).to_have_attribute("aria-pressed", "false")
    expect(follow).to_have_text("Follow")
    assert service.api("director", "GET", follow_url) == {"following": False}

    other.get_by_role("button", name="Close").click()
    expect(other.locator("#episode-detail")).to_be_hidden()
    expect(other.locator("#episode-list").get_by_role("link", name=title)).to_be_focused()


def test_after_a_dropped_connection_the_missed_events_arrive_once(open_dashboard, service):
    page = open_dashboard()
    seen_before = feed_ids(page)
    title = unique("While down")
    with service.down():
        expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        manage(service.database.env, "shell", "-c", CHANGES_WHILE_DOWN.format(title=title))

    # Reconnect attempts back off up to 30 s apart (connection.js): the longer the server was
    # down, the longer until the next one.
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=45_000)
    # Replayed on resuming, or reloaded over REST if the page must resync: either after a
    # server start, slow on a loaded machine.
    entries = page.locator("#activity-list > li", has_text=title)
    expect(entries).to_have_count(2, timeout=30_000)
    expect(entries.first).to_contain_text("Draft → Pending")
    expect(page.locator("#episode-list").get_by_role("link", name=title)).to_be_visible()
    ids = feed_ids(page)
    assert len(ids) == len(set(ids))
    assert set(seen_before) <= set(ids)


def test_a_feed_that_could_not_load_while_the_server_was_down_loads_once_back(
    browser, sessions, service
):
    context = browser.new_context(storage_state=sessions["editor"])
    held = []
    # The feed's first load is kept in flight until the server has stopped, as when the
    # service goes away just after the socket connected.
    context.route(
        "**/api/v1/activities/?*",
        lambda route: held.append(route) if not held else route.continue_(),
    )
    try:
        page = context.new_page()
        page.goto(f"{service.server.http}/dashboard/")
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        for _ in range(300):
            if held:
                break
            page.wait_for_timeout(50)
        assert held, "the feed never asked for its first page"
        title = unique("Missed")
        with service.down():
            held[0].continue_()
            expect(page.locator("#activity-message")).to_contain_text("Could not load")
            manage(service.database.env, "shell", "-c", CHANGES_WHILE_DOWN.format(title=title))

        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "connected", timeout=45_000
        )
        entries = page.locator("#activity-list > li", has_text=title)
        expect(entries).to_have_count(2, timeout=30_000)
        expect(page.locator("#activity-message")).to_be_empty()
    finally:
        context.close()


def test_going_offline_shows_and_coming_back_reconnects(open_dashboard):
    page = open_dashboard()
    page.context.set_offline(True)
    expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
    expect(page.locator("#connection")).to_have_text(re.compile("Offline"))
    page.context.set_offline(False)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")


def test_main_controls_are_reachable_by_tab_with_a_visible_focus(open_dashboard, service):
    service.create_episode("editor", unique("Tabbed"))
    page = open_dashboard()
    expect(page.locator("#episode-list > li").first).to_be_visible()

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    reached = set()
    for _ in range(120):
        page.keyboard.press("Tab")
        reached.add(
            page.evaluate(
                """() => {
                    const el = document.activeElement;
                    return el.id || el.getAttribute("aria-label") || el.textContent.trim();
                }"""
            )
        )
    assert {"bell", "Log out", "job-status", "activity-resource", "activity-action"} <= reached
    assert any(name.startswith("all") for name in reached)  # the status filters
    assert any(name.startswith("Tabbed") for name in reached)  # an episode link

    page.get_by_role("link", name="Skip to main content").focus()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.locator("#episode-list a").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#episode-detail")).to_be_visible()
    page.locator("#bell").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#notification-panel")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    expect(page.locator("#notification-panel")).to_be_hidden()
    expect(page.locator("#bell")).to_be_focused()
    expect(page.locator("#bell")).to_have_attribute("aria-expanded", "false")


def test_a_narrow_window_needs_no_horizontal_scrolling(open_dashboard, service):
    service.create_episode("editor", unique("A rather long episode title for a narrow window"))
    page = open_dashboard(width=400, height=800)
    expect(page.locator("#episode-list > li").first).to_be_visible()
    page.get_by_role("button", name=re.compile("^Notifications")).click()

    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    screenshot(page, "narrow")


def test_thousands_of_missed_rows_reload_over_rest_into_bounded_paged_lists(
    open_dashboard, service
):
    page = open_dashboard()
    with service.down():
        expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        manage(service.database.env, "shell", "-c", SEED)

    feed = page.locator("#activity-list > li")
    jobs = page.locator("#job-list > li")
    expect(feed.filter(has_text="Seeded 99").first).to_be_visible()
    # Reloaded over REST, a page of each: a replay would have brought all 200 jobs.
    expect(jobs).to_have_count(25)
    assert feed.count() in (50, 51)  # the restarted worker's start may follow the reload
    oldest = min(map(int, feed_ids(page)))
    for _ in range(4):
        page.get_by_role("button", name="Load more activity").click()
        page.wait_for_function(
            "n => document.querySelector('#activity-list > li:last-child').dataset.id < n",
            arg=oldest,
        )
        oldest = min(map(int, feed_ids(page)))
        assert feed.count() <= 100
    expect(page.get_by_role("button", name=re.compile(r"^Show \d+ newer"))).to_be_visible()
    ids = feed_ids(page)
    assert len(ids) == len(set(ids)) == 100

    for _ in range(7):
        page.get_by_role("button", name="Load more jobs").click()
    expect(page.get_by_role("button", name=re.compile(r"^Show \d+ newer"))).to_have_count(2)
    assert jobs.count() <= 100
    episodes = page.locator("#episode-list > li")
    expect(episodes).to_have_count(20)
    page.get_by_role("button", name="Load more episodes").click()
    expect(episodes).to_have_count(40)
    expect(episodes.last).to_contain_text("Seeded 60")
    expect(page.locator('#status-counts [data-status="all"]')).to_have_text(re.compile(r"\d{3}"))
    screenshot(page, "large-lists")


def test_a_viewer_is_offered_no_change_and_an_approver_every_one_their_role_allows(
    open_dashboard, service
):
    title = unique("Under review")
    episode = service.create_episode("director", title)
    url = f"/api/v1/episodes/{episode['id']}/"
    service.api("director", "PATCH", url, {"status": "pending"})
    job = long_job(service, "director", episode)
    path = f"#episode/{episode['id']}"

    def opened(user: str, status: str) -> Page:
        page = open_dashboard(user, path=path)
        expect(page.locator("#standing")).to_have_text(f" ({user})")
        expect(page.locator("#detail-fields")).to_contain_text(status)
        expect(page.locator(f'#job-list > li[data-id="{job["id"]}"]')).to_be_visible()
        return page

    try:
        viewer = opened("viewer", "pending")
        expect(viewer.locator("#detail-actions").get_by_role("button")).to_have_count(0)
        expect(viewer.locator("#job-list").get_by_role("button", name="Cancel")).to_have_count(0)
        screenshot(viewer, "viewer")

        approver = opened("approver", "pending")
        actions = approver.locator("#detail-actions")
        expect(actions.get_by_role("button")).to_have_text(
            ["Edit", "Approve", "Reject", "Back to draft", "Delete"]
        )
        job_row = approver.locator(f'#job-list > li[data-id="{job["id"]}"]')
        expect(job_row.get_by_role("button", name=re.compile("^Cancel"))).to_be_visible()

        actions.get_by_role("button", name="Approve").click()
        expect(approver.locator("#detail-fields")).to_contain_text("approved")
        expect(actions.get_by_role("button")).to_have_text(
            ["Edit", "Publish", "Back to draft", "Delete"]
        )
        actions.get_by_role("button", name="Edit").click()
        approver.get_by_label("Title").fill(f"{title} (approved)")
        approver.get_by_role("button", name="Save").click()
        expect(approver.locator("#detail-title")).to_have_text(f"{title} (approved)")
        actions.get_by_role("button", name="Delete").click()
        expect(actions.get_by_role("button")).to_have_text(["Restore"])
        actions.get_by_role("button", name="Restore").click()
        expect(actions.get_by_role("button", name="Publish")).to_be_visible()
        screenshot(approver, "approver")

        editor = opened("editor", "approved")
        expect(editor.locator("#detail-actions").get_by_role("button")).to_have_text(
            ["Edit", "Back to draft"]
        )
    finally:
        service.api("director", "POST", f"/api/v1/jobs/{job['id']}/cancel/")


def test_saving_an_edit_overtaken_by_another_change_shows_that_change_instead(
    open_dashboard, service
):
    """The edit form holds the version it was opened on (If-Match): a change arriving live
    meanwhile makes the save a 412, which shows the other change and says so."""
    title = unique("Contested")
    episode = service.create_episode("director", title)
    page = open_dashboard("approver", path=f"#episode/{episode['id']}")
    expect(page.locator("#detail-title")).to_have_text(title)
    page.locator("#detail-actions").get_by_role("button", name="Edit").click()
    page.get_by_label("Title").fill(f"{title} (mine)")

    url = f"/api/v1/episodes/{episode['id']}/"
    service.api("director", "PATCH", url, {"title": f"{title} (theirs)"})
    expect(page.locator("#detail-title")).to_have_text(f"{title} (theirs)")
    page.get_by_role("button", name="Save").click()

    message = page.locator("#detail-message")
    expect(message).to_contain_text("someone else changed this episode meanwhile")
    expect(page.locator("#detail-title")).to_have_text(f"{title} (theirs)")
    assert service.api("director", "GET", url)["title"] == f"{title} (theirs)"
    page.get_by_role("button", name="Save").click()  # now a decision made knowingly
    expect(page.locator("#detail-title")).to_have_text(f"{title} (mine)")


def test_a_user_with_no_role_is_told_so_instead_of_shown_panels_to_read(browser, sessions, service):
    context = browser.new_context(storage_state=sessions["newcomer"])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{service.server.http}/dashboard/")

    expect(page.locator("#standing")).to_have_text(" (no role)")
    expect(page.locator("#no-role")).to_be_visible()
    for panel in ("#episodes", "#jobs", "#activity"):
        expect(page.locator(panel)).to_be_hidden()
    expect(page.get_by_role("button", name=re.compile("^Notifications"))).to_be_visible()
    context.close()
    assert errors == []


def test_a_role_granted_or_revoked_changes_what_the_open_page_offers(open_dashboard, service):
    episode = service.create_episode("director", unique("Promotion"))
    page = open_dashboard("promoted", path=f"#episode/{episode['id']}")
    actions = page.locator("#detail-actions").get_by_role("button")
    expect(page.locator("#standing")).to_have_text(" (viewer)")
    expect(actions).to_have_count(0)

    manage(service.database.env, "grant", "approver", "promoted")

    expect(page.locator("#standing")).to_contain_text("approver")
    expect(actions).to_have_text(["Edit", "Submit for review", "Delete"])
    service.api("director", "PATCH", f"/api/v1/episodes/{episode['id']}/", {"title": "Renamed"})
    expect(page.locator("#detail-title")).to_have_text("Renamed")

    manage(service.database.env, "revoke", "approver", "promoted")
    manage(service.database.env, "revoke", "viewer", "promoted")

    expect(page.locator("#standing")).to_have_text(" (no role)")
    expect(page.locator("#no-role")).to_be_visible()
    for panel in ("#episodes", "#jobs", "#activity"):
        expect(page.locator(panel)).to_be_hidden()
