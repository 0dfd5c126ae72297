from django.db import migrations, models

ACTIONS = [
    "create",
    "update",
    "delete",
    "restore",
    "start",
    "complete",
    "retry",
    "requeue",
    "fail",
    "cancel",
    "upload",
    "download",
    "approve",
    "publish",
    "grant",
    "revoke",
]


class Migration(migrations.Migration):
    dependencies = [
        ("activity", "0007_notifications"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="activitylog",
            name="activity_action_valid",
        ),
        migrations.AlterField(
            model_name="activitylog",
            name="action",
            field=models.CharField(
                choices=[(action, action.capitalize()) for action in ACTIONS], max_length=16
            ),
        ),
        migrations.AddConstraint(
            model_name="activitylog",
            constraint=models.CheckConstraint(
                condition=models.Q(("action__in", ACTIONS)), name="activity_action_valid"
            ),
        ),
    ]
