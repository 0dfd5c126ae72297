"""The roles' groups: made by the upgrade, which keeps existing users' access, and kept in
step with episodes/roles.py by every `migrate`."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from episodes.roles import APPROVER, ROLES

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_ROLES = [("episodes", "0004_workflow_permissions")]


def permission_names(group: Group) -> set[str]:
    return {
        f"{permission.content_type.app_label}.{permission.codename}"
        for permission in group.permissions.select_related("content_type")
    }


def test_users_who_exist_before_the_upgrade_become_approvers_and_new_ones_get_no_role(
    django_user_model,
):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_ROLES)
    old_user_model = executor.loader.project_state(BEFORE_ROLES).apps.get_model("auth", "User")
    old_user_model.objects.create(username="veteran", password="!")

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    newcomer = django_user_model.objects.create_user("newcomer")

    assert list(Group.objects.get(name=APPROVER).user_set.values_list("username", flat=True)) == [
        "veteran"
    ]
    assert not newcomer.groups.exists()


def test_migrate_gives_each_role_exactly_the_permissions_the_code_names():
    Group.objects.get(name=APPROVER).permissions.clear()
    Group.objects.get(name="viewer").permissions.add(*Permission.objects.all())

    call_command("migrate", verbosity=0)

    assert {role: permission_names(Group.objects.get(name=role)) for role in ROLES} == ROLES
