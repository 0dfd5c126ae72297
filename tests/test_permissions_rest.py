"""Who may do what over REST: every action of docs/permissions.md's table, tried by each role
(no role, viewer, editor, approver, staff), gets exactly the answer the table gives; and the
episode workflow, each legal move made by the right roles only, each illegal one a 400."""

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from activity.models import ActivityLog
from episodes import services as episode_services
from episodes.compositions import services as composition_services
from episodes.models import Composition, Episode, EpisodeFile, EpisodeStatus
from episodes.roles import WORKFLOW
from jobs import registry
from jobs import services as job_services
from jobs.models import Job
from tests.conftest import bearer_client, with_role

pytestmark = pytest.mark.django_db

API = "/api/v1"
# Each role has what the one before it has, and more (episodes/roles.py).
ROLES = ["none", "viewer", "editor", "approver", "staff"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_user(name: str, role: str):
    users = get_user_model().objects
    if role == "staff":
        return users.create_user(username=name, password="pw-12345-long", is_staff=True)
    user = users.create_user(username=name, password="pw-12345-long")
    return user if role == "none" else with_role(user, role)


def image(episode: Episode, user) -> EpisodeFile:
    content = png()
    file = EpisodeFile(
        episode=episode,
        original_name="still.png",
        kind="image",
        content_type="image/png",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=user,
    )
    file.file.save("still.png", ContentFile(content), save=False)
    file.save()
    return file


def composition(episode: Episode, user, asset: EpisodeFile) -> Composition:
    data = {
        "episode": episode,
        "name": "Thumbnail",
        "layout": "single",
        "assets": [str(asset.pk)],
        "formats": ["youtube"],
    }
    return composition_services.create_composition(user=user, data=data)


def job(user, episode: Episode | None) -> Job:
    declared = registry.get("diagnostic")
    payload = declared.payload(data={})
    payload.is_valid(raise_exception=True)
    episode_id = episode.pk if episode is not None else None
    return job_services.enqueue(declared, payload.validated_data, user=user, episode_id=episode_id)


class World:
    """What the actions act on, made when first asked for: most belong to `owner` (an
    approver, not the actor); the actor's own things are named so."""

    def __init__(self, actor) -> None:
        self.actor = actor
        self.owner = make_user("owner", "approver")

    @cached_property
    def episode(self) -> Episode:
        return episode_services.create_episode(user=self.owner, data={"title": "Pilot"})

    @cached_property
    def deleted_episode(self) -> Episode:
        episode = episode_services.create_episode(user=self.owner, data={"title": "Gone"})
        return episode_services.soft_delete_episode(episode, user=self.owner)

    @cached_property
    def file(self) -> EpisodeFile:
        return image(self.episode, self.owner)

    @cached_property
    def own_file(self) -> EpisodeFile:
        return image(self.episode, self.actor)

    @cached_property
    def composition(self) -> Composition:
        return composition(self.episode, self.owner, self.file)

    @cached_property
    def own_composition(self) -> Composition:
        return composition(self.episode, self.actor, self.file)

    @cached_property
    def rendered_composition(self) -> Composition:
        """Approved, with a render of its current version: ready to publish."""
        made = composition(self.episode, self.owner, self.file)
        render = image(self.episode, self.owner)
        Composition.objects.filter(pk=made.pk).update(
            status="approved", rendered_version=made.version, renders={"youtube": str(render.pk)}
        )
        return made

    @cached_property
    def job(self) -> Job:
        """Someone else's, on an episode anyone with a role may read."""
        return job(self.owner, self.episode)

    @cached_property
    def cancelled_job(self) -> Job:
        return job_services.cancel(job(self.owner, self.episode))

    @cached_property
    def own_job(self) -> Job:
        return job(self.actor, None)

    @cached_property
    def own_cancelled_job(self) -> Job:
        return job_services.cancel(job(self.actor, None))

    @cached_property
    def unattached_job(self) -> Job:
        """Someone else's, on no episode."""
        return job(self.owner, None)

    @cached_property
    def job_with_file(self) -> Job:
        made = self.job
        path = default_storage.save("reports/weekly.json", ContentFile(b'{"rows": 3}'))
        made.result = {"files": [{"format": "json", "path": path}]}
        made.save(update_fields=["result"])
        return made

    @cached_property
    def activity_entry(self) -> ActivityLog:
        self.episode  # noqa: B018 - its creation is an entry
        return ActivityLog.objects.latest("pk")


def episode_url(world: World, suffix: str = "") -> str:
    return f"{API}/episodes/{world.episode.pk}/{suffix}"


def file_url(world: World, file: EpisodeFile, suffix: str = "") -> str:
    return f"{episode_url(world)}files/{file.pk}/{suffix}"


def composition_url(composition: Composition, suffix: str = "") -> str:
    return f"{API}/compositions/{composition.pk}/{suffix}"


def job_url(job: Job, suffix: str = "") -> str:
    return f"{API}/jobs/{job.pk}/{suffix}"


def upload(client, world: World):
    part = SimpleUploadedFile("cover.png", png(), content_type="image/png")
    return client.post(episode_url(world, "files/"), {"file": part}, format="multipart")


@dataclass(frozen=True)
class Case:
    """An action, the least role allowed it, and what a refusal is when not a 403 (a 404 for
    what the role cannot see, by role)."""

    name: str
    least: str
    request: Callable
    hidden_from: frozenset[str] = field(default_factory=frozenset)


def case(name: str, least: str, request: Callable, hidden_from=()) -> Case:
    return Case(name, least, request, frozenset(hidden_from))


ACTIONS = [
    # Episodes
    case("list episodes", "viewer", lambda c, w: c.get(f"{API}/episodes/")),
    case("read an episode", "viewer", lambda c, w: c.get(episode_url(w))),
    case(
        "count episodes by status", "viewer", lambda c, w: c.get(f"{API}/episodes/status-counts/")
    ),
    case("see an episode's viewers", "viewer", lambda c, w: c.get(episode_url(w, "viewers/"))),
    case("read an episode's history", "viewer", lambda c, w: c.get(episode_url(w, "activity/"))),
    case("follow an episode", "viewer", lambda c, w: c.post(episode_url(w, "follow/"))),
    case("create an episode", "editor", lambda c, w: c.post(f"{API}/episodes/", {"title": "New"})),
    case("edit an episode", "editor", lambda c, w: c.patch(episode_url(w), {"title": "Renamed"})),
    case("delete an episode", "approver", lambda c, w: c.delete(episode_url(w))),
    case(
        "restore a deleted episode",
        "approver",
        lambda c, w: c.post(f"{API}/episodes/{w.deleted_episode.pk}/restore/"),
    ),
    case(
        "list deleted episodes",
        "staff",
        lambda c, w: c.get(f"{API}/episodes/?include_deleted=true"),
    ),
    case(
        "delete an episode for good",
        "staff",
        lambda c, w: c.delete(f"{episode_url(w)}?hard=true"),
    ),
    # Files
    case("list an episode's files", "viewer", lambda c, w: c.get(episode_url(w, "files/"))),
    case("download a file", "viewer", lambda c, w: c.get(file_url(w, w.file, "download/"))),
    case("upload a file", "editor", upload),
    case("delete a file one uploaded", "editor", lambda c, w: c.delete(file_url(w, w.own_file))),
    case("delete anyone's file", "staff", lambda c, w: c.delete(file_url(w, w.file))),
    # Compositions
    case("list compositions", "viewer", lambda c, w: c.get(f"{API}/compositions/")),
    case(
        "read a composition's versions",
        "viewer",
        lambda c, w: c.get(composition_url(w.composition, "versions/")),
    ),
    case(
        "create a composition",
        "editor",
        lambda c, w: c.post(
            f"{API}/compositions/",
            {
                "episode": str(w.episode.pk),
                "name": "Mine",
                "layout": "single",
                "assets": [str(w.file.pk)],
                "formats": ["youtube"],
            },
        ),
    ),
    case(
        "edit a composition",
        "editor",
        lambda c, w: c.patch(composition_url(w.composition), {"name": "Renamed"}),
    ),
    case(
        "revert a composition",
        "editor",
        lambda c, w: c.post(composition_url(w.composition, "revert/"), {"version": 1}),
    ),
    case(
        "make a composition primary",
        "editor",
        lambda c, w: c.post(composition_url(w.composition, "make-primary/")),
    ),
    case(
        "render a composition",
        "editor",
        lambda c, w: c.post(composition_url(w.composition, "render/")),
    ),
    case(
        "delete a composition one created",
        "editor",
        lambda c, w: c.delete(composition_url(w.own_composition)),
    ),
    case(
        "delete anyone's composition",
        "staff",
        lambda c, w: c.delete(composition_url(w.composition)),
    ),
    case(
        "approve a composition",
        "approver",
        lambda c, w: c.post(composition_url(w.composition, "approve/")),
    ),
    case(
        "publish a composition",
        "approver",
        lambda c, w: c.post(composition_url(w.rendered_composition, "publish/")),
    ),
    # Jobs
    case("list job types", "viewer", lambda c, w: c.get(f"{API}/job-types/")),
    case("list jobs", "viewer", lambda c, w: c.get(f"{API}/jobs/")),
    case("read a job on an episode", "viewer", lambda c, w: c.get(job_url(w.job))),
    case(
        "download a job's file",
        "viewer",
        lambda c, w: c.get(job_url(w.job_with_file, "files/json/")),
    ),
    case(
        "read someone else's job on no episode",
        "staff",
        lambda c, w: c.get(job_url(w.unattached_job)),
        hidden_from={"viewer", "editor", "approver"},
    ),
    case(
        "start a job",
        "editor",
        lambda c, w: c.post(f"{API}/jobs/", {"job_type": "diagnostic", "payload": {}}),
    ),
    case("cancel a job one started", "viewer", lambda c, w: c.post(job_url(w.own_job, "cancel/"))),
    case(
        "retry a job one started",
        "viewer",
        lambda c, w: c.post(job_url(w.own_cancelled_job, "retry/")),
    ),
    case("cancel anyone's job", "approver", lambda c, w: c.post(job_url(w.job, "cancel/"))),
    case(
        "retry anyone's job",
        "approver",
        lambda c, w: c.post(job_url(w.cancelled_job, "retry/")),
    ),
    # Activity
    case("list the activity log", "viewer", lambda c, w: c.get(f"{API}/activities/")),
    case(
        "read an activity entry",
        "viewer",
        lambda c, w: c.get(f"{API}/activities/{w.activity_entry.pk}/"),
    ),
    # One's own account and notifications
    case("read one's own account", "none", lambda c, w: c.get(f"{API}/auth/me")),
    case("list one's notifications", "none", lambda c, w: c.get(f"{API}/notifications/")),
    case(
        "ask for a ticket for the live event stream",
        "none",
        lambda c, w: c.post(f"{API}/realtime/ticket/"),
    ),
    case(
        "send an announcement",
        "staff",
        lambda c, w: c.post(f"{API}/notifications/", {"title": "Hello"}),
    ),
    # Webhooks
    case("list webhooks", "staff", lambda c, w: c.get(f"{API}/webhooks/")),
]

# A 403 says what is missing: a permission by name, or that the action is for staff.
CLEAR_REFUSAL = re.compile(r"permission (episodes|jobs|activity|realtime)\.[a-z_]+\b|^Only staff")


def may(role: str, least: str) -> bool:
    return ROLES.index(role) >= ROLES.index(least)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.name)
def test_each_role_gets_the_answer_the_table_gives(action: Case, role: str):
    actor = make_user("actor", role)
    world = World(actor)
    client = bearer_client(actor)
    client.defaults["format"] = "json"

    response = action.request(client, world)

    if may(role, action.least):
        assert response.status_code < 300, (response.status_code, response.content[:300])
    elif role in action.hidden_from:
        assert response.status_code == 404, response.content[:300]
    else:
        assert response.status_code == 403, response.content[:300]
        assert CLEAR_REFUSAL.search(response.json()["detail"]), response.json()


# --- The workflow -----------------------------------------------------------------------------

# The least role holding each permission a move needs (episodes/roles.py's ROLES).
LEAST_FOR = {
    "episodes.change_episode": "editor",
    "episodes.approve_episode": "approver",
    "episodes.publish_episode": "approver",
    "episodes.archive_episode": "approver",
}
MOVES = [
    (start, end, LEAST_FOR[needed])
    for start, moves in WORKFLOW.items()
    for end, needed in moves.items()
]
ILLEGAL = [
    (start, end)
    for start in EpisodeStatus.values
    for end in EpisodeStatus.values
    if end != start and end not in WORKFLOW[start]
]


def episode_in(status: str) -> Episode:
    return Episode.objects.create(title="Pilot", status=status)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("start", "end", "least"), MOVES, ids=lambda value: str(value))
def test_each_move_is_made_by_the_roles_allowed_it_only(start, end, least, role):
    client = bearer_client(make_user("actor", role))
    episode = episode_in(start)

    response = client.patch(f"{API}/episodes/{episode.pk}/", {"status": end}, format="json")

    episode.refresh_from_db()
    if may(role, least):
        assert response.status_code == 200, response.json()
        assert episode.status == end
    else:
        assert response.status_code == 403
        assert CLEAR_REFUSAL.search(response.json()["detail"]), response.json()
        assert episode.status == start


@pytest.mark.parametrize(("start", "end"), ILLEGAL, ids=lambda value: str(value))
def test_an_illegal_move_is_a_400_naming_the_allowed_ones(start, end, staff_api):
    episode = episode_in(start)

    response = staff_api.patch(f"{API}/episodes/{episode.pk}/", {"status": end}, format="json")

    assert response.status_code == 400
    allowed = ", ".join(sorted(WORKFLOW[start]))
    assert response.json() == {
        "status": [
            f"An episode cannot go from {start} to {end}; from {start} it can go to {allowed}."
        ]
    }
    episode.refresh_from_db()
    assert episode.status == start


def test_an_illegal_move_is_refused_before_the_rest_of_the_change(api):
    episode = episode_in(EpisodeStatus.DRAFT)

    response = api.patch(
        f"{API}/episodes/{episode.pk}/", {"title": "Renamed", "status": "published"}, format="json"
    )

    assert response.status_code == 400
    episode.refresh_from_db()
    assert (episode.title, episode.status) == ("Pilot", EpisodeStatus.DRAFT)


# A new episode makes the moves from draft to the status asked for, each by its permission.
CREATED_AS = {
    EpisodeStatus.DRAFT: "editor",
    EpisodeStatus.PENDING: "editor",
    EpisodeStatus.APPROVED: "approver",
    EpisodeStatus.REJECTED: "approver",
    EpisodeStatus.PUBLISHED: "approver",
    EpisodeStatus.ARCHIVED: "approver",
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("status", "least"), CREATED_AS.items())
def test_a_new_episode_starts_where_its_creator_may_take_it(status, least, role):
    client = bearer_client(make_user("actor", role))

    response = client.post(f"{API}/episodes/", {"title": "New", "status": status}, format="json")

    if may(role, least):
        assert response.status_code == 201, response.json()
        assert Episode.objects.get().status == status
    else:
        assert response.status_code == 403
        assert CLEAR_REFUSAL.search(response.json()["detail"]), response.json()
        assert not Episode.objects.exists()


def test_an_editor_is_told_which_permission_publishing_needs(django_user_model):
    editor = bearer_client(make_user("writer", "editor"))
    episode = episode_in(EpisodeStatus.APPROVED)

    response = editor.patch(f"{API}/episodes/{episode.pk}/", {"status": "published"}, format="json")

    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have the permission episodes.publish_episode."}


def test_an_episode_goes_the_whole_way_with_each_role_doing_its_part():
    editor = bearer_client(make_user("writer", "editor"))
    approver = bearer_client(make_user("boss", "approver"))
    created = editor.post(f"{API}/episodes/", {"title": "Pilot"}, format="json").json()
    url = f"{API}/episodes/{created['id']}/"

    steps = [
        (editor, "pending"),
        (approver, "rejected"),
        (editor, "draft"),
        (editor, "pending"),
        (approver, "approved"),
        (approver, "published"),
        (approver, "archived"),
    ]
    for client, status in steps:
        response = client.patch(url, {"status": status}, format="json")
        assert response.status_code == 200, (status, response.json())

    assert created["status"] == "draft"
    assert Episode.objects.get().status == "archived"


def test_a_user_with_no_role_has_their_account_and_notifications_only():
    nobody = bearer_client(make_user("nobody", "none"))

    assert nobody.get(f"{API}/auth/me").json()["username"] == "nobody"
    assert nobody.get(f"{API}/notifications/").status_code == 200
    assert nobody.get(f"{API}/notifications/unread-count/").status_code == 200
    assert nobody.get(f"{API}/episodes/").json() == {
        "detail": "You do not have the permission episodes.view_episode."
    }


def test_a_refusal_does_not_tell_whether_the_episode_exists():
    nobody = bearer_client(make_user("nobody", "none"))
    missing = "00000000-0000-4000-8000-000000000000"

    response = nobody.get(f"{API}/episodes/{missing}/files/")

    assert response.status_code == 403


def test_jobs_list_shows_ones_own_and_those_on_readable_episodes():
    world = World(make_user("actor", "viewer"))
    visible = {world.job.pk, world.own_job.pk}
    world.unattached_job  # noqa: B018 - someone else's, on no episode

    listed = bearer_client(world.actor).get(f"{API}/jobs/").json()["results"]
    everything = bearer_client(make_user("boss", "staff")).get(f"{API}/jobs/").json()["results"]

    assert {job["id"] for job in listed} == {str(pk) for pk in visible}
    assert len(everything) == 3


def test_jobs_on_a_soft_deleted_episode_stay_visible_to_episode_readers():
    """As on the event stream: a job is part of its episode's history, deleted or not."""
    world = World(make_user("actor", "viewer"))
    on_deleted = job(world.owner, world.deleted_episode)

    listed = bearer_client(world.actor).get(f"{API}/jobs/").json()["results"]
    shown = bearer_client(world.actor).get(f"{API}/jobs/{on_deleted.pk}/")

    assert [row["id"] for row in listed] == [str(on_deleted.pk)]
    assert shown.status_code == 200


def logged_resources(client, url: str = f"{API}/activities/") -> set[tuple[str, str]]:
    rows = client.get(url, {"page_size": 200}).json()["results"]
    return {(row["resource_type"], row["resource_id"]) for row in rows}


def test_the_activity_log_shows_only_rows_of_jobs_the_reader_may_see():
    world = World(make_user("actor", "viewer"))
    jobs = {
        "on an episode": world.job,
        "on a deleted episode": job(world.owner, world.deleted_episode),
        "own": world.own_job,
        "someone else's": world.unattached_job,
    }

    seen = logged_resources(bearer_client(world.actor))
    everything = logged_resources(bearer_client(make_user("boss", "staff")))

    shown = {name for name, made in jobs.items() if ("job", str(made.pk)) in seen}
    assert shown == {"on an episode", "on a deleted episode", "own"}
    assert {("job", str(made.pk)) for made in jobs.values()} <= everything


def test_one_activity_row_of_a_job_the_reader_may_not_see_is_a_404():
    world = World(make_user("actor", "viewer"))
    hidden = ActivityLog.objects.get(resource_type="job", resource_id=str(world.unattached_job.pk))
    own = ActivityLog.objects.get(resource_type="job", resource_id=str(world.own_job.pk))
    client = bearer_client(world.actor)

    assert client.get(f"{API}/activities/{hidden.pk}/").status_code == 404
    assert client.get(f"{API}/activities/{own.pk}/").status_code == 200


def test_activity_rows_of_a_kind_the_reader_may_not_view_are_left_out():
    """A custom group that may read the log and episodes, but not their files."""
    reader = make_user("reader", "none")
    group = Group.objects.create(name="log readers")
    group.permissions.set(
        Permission.objects.filter(
            codename__in=["view_activitylog", "view_episode"],
            content_type__app_label__in=["activity", "episodes"],
        )
    )
    reader.groups.add(group)
    world = World(reader)
    world.file  # noqa: B018 - uploaded to the episode, so logged

    listed = logged_resources(bearer_client(reader))
    history = logged_resources(
        bearer_client(reader), f"{API}/episodes/{world.episode.pk}/activity/"
    )

    for rows in (listed, history):
        assert ("episode", str(world.episode.pk)) in rows
        assert ("file", str(world.file.pk)) not in rows


def test_role_changes_in_the_log_are_read_by_the_user_concerned_and_staff():
    granted = make_user("granted", "viewer")
    other = make_user("other", "viewer")
    boss = make_user("boss", "staff")
    granted.groups.add(Group.objects.get(name="editor"))

    def role_rows(reader) -> set[str]:
        return {ident for kind, ident in logged_resources(bearer_client(reader)) if kind == "user"}

    assert role_rows(granted) == {str(granted.pk)}
    assert role_rows(other) == set()
    assert role_rows(boss) == {str(granted.pk)}
