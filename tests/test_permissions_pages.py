"""What each user is offered besides the API's answers themselves: `GET /api/v1/auth/me` says
their roles, permissions and workflow moves, asked of the same `allowed` every door asks; the
admin is open to staff who are not superusers, its group screens give and take roles, and it
stays closed to everyone else, roles or not. The dashboard's buttons per role are in
test_dashboard_browser.py."""

import pytest
import schemathesis
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import RequestFactory
from django.urls import reverse

from episodes import services
from episodes.models import EpisodeStatus
from episodes.roles import APPROVER, EDITOR, ROLES, VIEWER, WORKFLOW
from jobs import registry
from jobs.services import enqueue
from tests.conftest import bearer_client
from tests.test_openapi_schema import conforms

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me"


def with_role(user, role: str):
    Group.objects.get(name=role).user_set.add(user)
    return user


@pytest.fixture
def newcomer(django_user_model):
    """A user as every new one starts: no role."""
    return django_user_model.objects.create_user("newcomer", "newcomer@example.com")


def every_permission() -> list[str]:
    defined = Permission.objects.values_list("content_type__app_label", "codename")
    return sorted(f"{app}.{codename}" for app, codename in defined)


@pytest.fixture
def schema(staff_api):
    return schemathesis.openapi.from_dict(staff_api.get("/api/schema/?format=json").json())


@pytest.mark.parametrize("role", [VIEWER, EDITOR, APPROVER])
def test_me_names_the_role_its_permissions_and_the_moves_they_allow(schema, newcomer, role):
    with_role(newcomer, role)

    response = conforms(schema, bearer_client(newcomer).get(ME), "/auth/me")

    body = response.json()
    assert body["roles"] == [role]
    assert body["permissions"] == sorted(ROLES[role])
    assert body["transitions"] == {
        status: [to for to, needed in moves.items() if needed in ROLES[role]]
        for status, moves in WORKFLOW.items()
    }


def test_an_approver_may_make_every_move_from_review_and_a_viewer_none(newcomer, django_user_model):
    viewer = with_role(django_user_model.objects.create_user("watcher"), VIEWER)

    approver_moves = bearer_client(with_role(newcomer, APPROVER)).get(ME).json()["transitions"]
    viewer_moves = bearer_client(viewer).get(ME).json()["transitions"]

    assert approver_moves[EpisodeStatus.PENDING] == ["approved", "rejected", "draft"]
    assert approver_moves[EpisodeStatus.APPROVED] == ["published", "draft"]
    assert set(viewer_moves) == set(EpisodeStatus.values)
    assert not any(viewer_moves.values())


def test_staff_have_every_permission_and_every_move_without_a_role(schema, staff_api):
    body = conforms(schema, staff_api.get(ME), "/auth/me").json()

    assert body["is_staff"] is True
    assert body["roles"] == []
    assert body["permissions"] == every_permission()
    assert body["transitions"] == {status: list(moves) for status, moves in WORKFLOW.items()}


def test_a_user_with_no_role_may_do_nothing(schema, newcomer):
    body = conforms(schema, bearer_client(newcomer).get(ME), "/auth/me").json()

    assert body["roles"] == []
    assert body["permissions"] == []
    assert body["transitions"] == {status: [] for status in WORKFLOW}


@pytest.fixture
def staff_client(client, staff_user):
    assert not staff_user.is_superuser
    client.force_login(staff_user)
    return client


WITH_ROWS = {"episodes.Episode", "jobs.Job", "activity.ActivityLog", "auth.Group", "auth.User"}


@pytest.fixture
def rows(staff_user) -> None:
    """A row of each kind most admin pages show: an episode (and its activity), a job."""
    episode = services.create_episode(user=staff_user, data={"title": "Pilot"})
    services.update_episode(episode, user=staff_user, data={"status": "pending"})
    enqueue(registry.get("diagnostic"), {}, user=staff_user)


def test_staff_who_are_not_superusers_use_every_admin_page(staff_client, staff_user, rows):
    request = RequestFactory().get("/admin/")
    request.user = staff_user
    index = staff_client.get(reverse("admin:index"))
    assert index.status_code == 200
    shown = []

    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert reverse(f"{name}_changelist") in index.text, name
        assert staff_client.get(reverse(f"{name}_changelist")).status_code == 200, name
        adding = 200 if model_admin.has_add_permission(request) else 403
        assert staff_client.get(reverse(f"{name}_add")).status_code == adding, name
        row = model._default_manager.first()
        if row is None:
            continue
        shown.append(model._meta.label)
        assert staff_client.get(reverse(f"{name}_change", args=[row.pk])).status_code == 200
        assert staff_client.get(reverse(f"{name}_history", args=[row.pk])).status_code == 200
        deleting = 200 if model_admin.has_delete_permission(request, row) else 403
        page = staff_client.get(reverse(f"{name}_delete", args=[row.pk]))
        assert page.status_code == deleting, name

    assert set(shown) >= WITH_ROWS


def test_the_group_screens_list_the_roles_and_give_and_take_one(staff_client, newcomer):
    editors = Group.objects.get(name=EDITOR)
    page = reverse("admin:auth_group_change", args=[editors.pk])
    permissions = list(editors.permissions.values_list("pk", flat=True))

    listing = staff_client.get(reverse("admin:auth_group_changelist"))
    shown = staff_client.get(page)
    given = staff_client.post(
        page, {"name": EDITOR, "permissions": permissions, "users": [newcomer.pk]}
    )

    assert all(f">{role}</a>" in listing.text for role in ROLES)
    assert "every migrate sets them back" in shown.text
    assert given.status_code == 302, given.text[:2000]
    assert list(editors.user_set.all()) == [newcomer]
    assert type(newcomer).objects.get(pk=newcomer.pk).has_perm("episodes.change_episode")
    members = staff_client.get(reverse("admin:auth_group_changelist")).text
    assert 'class="field-members">1</td>' in members

    taken = staff_client.post(page, {"name": EDITOR, "permissions": permissions, "users": []})

    assert taken.status_code == 302
    assert not editors.user_set.exists()
    assert not type(newcomer).objects.get(pk=newcomer.pk).has_perm("episodes.change_episode")


def test_a_new_group_gets_its_permissions_and_members_on_its_own_page(staff_client, newcomer):
    approve = Permission.objects.get(codename="approve_episode")
    publish = Permission.objects.get(codename="publish_episode")

    added = staff_client.post(
        reverse("admin:auth_group_add"),
        {"name": "reviewers", "permissions": [approve.pk, publish.pk], "users": [newcomer.pk]},
    )
    reviewers = Group.objects.get(name="reviewers")
    changed = staff_client.post(
        reverse("admin:auth_group_change", args=[reviewers.pk]),
        {"name": "reviewers", "permissions": [approve.pk], "users": [newcomer.pk]},
    )

    assert added.status_code == changed.status_code == 302
    fresh = type(newcomer).objects.get(pk=newcomer.pk)
    assert fresh.has_perm("episodes.approve_episode")
    assert not fresh.has_perm("episodes.publish_episode")
    page = staff_client.get(reverse("admin:auth_group_change", args=[reviewers.pk]))
    assert "every migrate" not in page.text  # not a role: its permissions stay as set here


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/auth/group/",
        "/admin/episodes/episode/",
        "/admin/episodes/episode/6f9619ff-8b86-d011-b42d-00c04fc964ff/change/",
    ],
)
def test_the_admin_stays_closed_to_users_who_are_not_staff_whatever_their_role(
    client, newcomer, path
):
    client.force_login(with_role(newcomer, APPROVER))

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_admin_makes_only_the_workflows_moves(staff_client, staff_user):
    episode = services.create_episode(user=staff_user, data={"title": "Pilot"})
    form = {"title": "Pilot", "status": "published", "categories": "[]", "description": ""}
    url = reverse("admin:episodes_episode_change", args=[episode.pk])

    refused = staff_client.post(url, form)
    moved = staff_client.post(url, {**form, "status": "pending"})

    assert refused.status_code == 200
    assert (
        "An episode cannot go from draft to published; from draft it can go to pending."
        in refused.text
    )
    assert moved.status_code == 302
    episode.refresh_from_db()
    assert episode.status == EpisodeStatus.PENDING
