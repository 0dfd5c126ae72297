"""Granting and revoking roles: `manage.py grant` and `manage.py revoke`, and every role change,
however it is made (the commands, the admin, the shell, either side of the membership), in the
activity log with its actor."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from activity.models import ActivityLog
from episode_metadata.common.context import ActivityContext, acting
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def make(username: str, **extra):
    return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)


def run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def roles_of(user) -> set[str]:
    user = get_user_model().objects.get(pk=user.pk)
    return set(user.groups.values_list("name", flat=True)) | ({"staff"} if user.is_staff else set())


def logged() -> list[tuple[str, str, str, dict]]:
    """Each role change in the log: (action, username, actor label, changes)."""
    rows = ActivityLog.objects.filter(resource_type="user").order_by("id")
    return [(row.action, row.resource_repr, row.actor_label, row.changes) for row in rows]


def role(name: str) -> Group:
    return Group.objects.get(name=name)


def test_grant_gives_each_user_the_role_with_a_line_each():
    alice, bob = make("alice"), make("bob")

    lines = run("grant", "editor", "alice", "bob")

    assert lines == ["Granted editor to alice.", "Granted editor to bob."]
    assert roles_of(alice) == roles_of(bob) == {"editor"}


def test_grant_of_a_role_held_already_changes_nothing():
    alice = make("alice")
    run("grant", "viewer", "alice")

    lines = run("grant", "viewer", "alice")

    assert lines == ["alice already has viewer; unchanged."]
    assert roles_of(alice) == {"viewer"}
    assert len(logged()) == 1


def test_revoke_takes_the_role_away():
    alice = make("alice")
    make("bob")
    run("grant", "approver", "alice")

    lines = run("revoke", "approver", "alice", "bob")

    assert lines == ["Revoked approver from alice.", "bob does not have approver; unchanged."]
    assert roles_of(alice) == set()


def test_staff_is_the_staff_flag():
    alice = make("alice")

    granted = run("grant", "staff", "alice")
    holds = roles_of(alice)
    revoked = run("revoke", "staff", "alice")

    assert (granted, holds) == (["Granted staff to alice."], {"staff"})
    assert (revoked, roles_of(alice)) == (["Revoked staff from alice."], set())


def test_an_unknown_role_is_refused_naming_the_roles():
    make("alice")

    with pytest.raises(CommandError) as refused:
        run("grant", "boss", "alice")

    assert str(refused.value) == "Unknown role 'boss': use viewer, editor, approver or staff."
    assert not ActivityLog.objects.exists()


def test_unknown_users_are_named_and_nobody_changes():
    alice = make("alice")

    with pytest.raises(CommandError) as refused:
        run("grant", "editor", "alice", "nobody", "ghost")

    assert str(refused.value) == "No user named 'nobody', 'ghost'."
    assert roles_of(alice) == set()
    assert not ActivityLog.objects.exists()


def test_the_commands_record_each_change_as_theirs():
    make("alice")

    run("grant", "editor", "alice")
    run("revoke", "editor", "alice")

    assert logged() == [
        ("grant", "alice", "manage.py grant", {"role": [None, "editor"]}),
        ("revoke", "alice", "manage.py revoke", {"role": ["editor", None]}),
    ]
    entry = ActivityLog.objects.filter(resource_type="user").first()
    assert (entry.actor, entry.source) == (None, "system")
    assert entry.resource_id == str(get_user_model().objects.get(username="alice").pk)


def test_a_change_in_the_admin_is_recorded_with_the_admin_as_actor(client):
    boss = get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)
    alice = make("alice")
    alice.groups.add(role("viewer"))
    client.force_login(boss)
    form = {
        "username": "alice",
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "is_staff": "on",
        "groups": [role("editor").pk],
        "user_permissions": [],
        "date_joined_0": "2026-12-01",
        "date_joined_1": "09:00:00",
        "last_login_0": "",
        "last_login_1": "",
    }

    response = client.post(f"/admin/auth/user/{alice.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    changes = ActivityLog.objects.filter(resource_type="user", actor=boss).order_by("id")
    assert [(e.action, e.changes["role"], e.source) for e in changes] == [
        ("grant", [None, "staff"], "admin"),
        ("revoke", ["viewer", None], "admin"),
        ("grant", [None, "editor"], "admin"),
    ]


def test_a_change_in_the_shell_is_recorded_with_whoever_acts():
    boss, alice = make("boss"), make("alice")

    with acting(ActivityContext(actor_label="boss in the shell", get_user=lambda: boss)):
        alice.groups.add(role("viewer"))

    entry = ActivityLog.objects.get(resource_type="user")
    assert (entry.action, entry.actor, entry.actor_label) == ("grant", boss, "boss in the shell")
    assert entry.metadata["summary"] == {"id": alice.pk, "username": "alice", "role": "viewer"}


def test_changes_from_the_groups_side_are_recorded_per_user():
    alice, bob = make("alice"), make("bob")
    approvers = role("approver")

    approvers.user_set.add(alice, bob)
    approvers.user_set.remove(bob)
    approvers.user_set.clear()

    assert [(action, name) for action, name, *_ in logged()] == [
        ("grant", "alice"),
        ("grant", "bob"),
        ("revoke", "bob"),
        ("revoke", "alice"),
    ]


def test_only_real_changes_are_recorded():
    alice = make("alice")
    alice.groups.add(role("viewer"))

    alice.groups.add(role("viewer"))  # held already
    alice.groups.remove(role("editor"))  # never held
    alice.email = "alice@example.com"
    alice.save()  # staff unchanged
    alice.groups.set([role("editor")])
    alice.groups.clear()

    assert [(action, entry["role"]) for action, _, _, entry in logged()] == [
        ("grant", [None, "viewer"]),
        ("revoke", ["viewer", None]),
        ("grant", [None, "editor"]),
        ("revoke", ["editor", None]),
    ]


def test_a_new_user_created_as_staff_is_not_a_role_change():
    make("boss", is_staff=True)

    assert logged() == []
