from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Action(models.TextChoices):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESTORE = "restore"
    START = "start"
    COMPLETE = "complete"
    RETRY = "retry"
    REQUEUE = "requeue"
    FAIL = "fail"
    CANCEL = "cancel"
    UPLOAD = "upload"
    DOWNLOAD = "download"
    APPROVE = "approve"
    PUBLISH = "publish"


class Source(models.TextChoices):
    API = "api"
    ADMIN = "admin"
    JOB = "job"
    SYSTEM = "system"


class ActivityLog(models.Model):
    """One recorded change. Append-only; its id doubles as the live event stream's cursor."""

    id = models.BigAutoField(primary_key=True)
    timestamp = models.DateTimeField(default=timezone.now)
    # PROTECT: an audit log outlives nobody it names; deactivate users instead of deleting them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # activity_actor_idx (actor, id) serves every lookup by actor
    )
    actor_label = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=16, choices=Action.choices)
    resource_type = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=64)
    resource_repr = models.CharField(max_length=255, blank=True, default="")
    episode_id = models.UUIDField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SYSTEM)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=Action.values), name="activity_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=Source.values), name="activity_source_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["resource_type", "resource_id", "id"], name="activity_resource_idx"
            ),
            models.Index(fields=["resource_id", "id"], name="activity_resource_id_idx"),
            models.Index(fields=["episode_id", "id"], name="activity_episode_idx"),
            models.Index(fields=["actor", "id"], name="activity_actor_idx"),
            models.Index(fields=["action", "id"], name="activity_action_idx"),
            models.Index(fields=["timestamp"], name="activity_timestamp_idx"),
            models.Index(fields=["request_id"], name="activity_request_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.actor_label or 'system'} {self.action} {self.resource_type} {self.resource_repr}"


class RetentionMark(models.Model):
    """The highest activity id ever pruned: a resume from before it cannot be complete."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    pruned_through = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="retention_mark_single_row")]

    def __str__(self) -> str:
        return f"activity pruned through #{self.pruned_through}"
