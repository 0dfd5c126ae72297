"""The roles' groups, and every user that exists before them made an approver, so that no
deployment loses access on upgrade (until now, any signed-in user could do what an approver
can). Their permissions are set after every migrate (episodes.roles.sync_groups)."""

from django.conf import settings
from django.db import migrations

ROLES = ("viewer", "editor", "approver")


def create_groups(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    approver = Group.objects.get(name="approver")
    approver.user_set.add(*User.objects.all())


def remove_groups(apps, schema_editor) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("episodes", "0004_workflow_permissions"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
