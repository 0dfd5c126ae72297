from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.lookups import Exact
from django.utils import timezone

from episode_metadata.common.context import Source
from episode_metadata.common.db_functions import JSONType
from episode_metadata.common.versioning import VersionedModel


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
    # A user gained or lost a role (a group, or staff).
    GRANT = "grant"
    REVOKE = "revoke"


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


class NotificationType(models.TextChoices):
    EPISODE_CREATED = "episode_created"
    EPISODE_UPDATED = "episode_updated"
    EPISODE_DELETED = "episode_deleted"
    JOB_COMPLETED = "job_completed"
    JOB_FAILED = "job_failed"
    FILE_UPLOADED = "file_uploaded"
    COMPOSITION_PUBLISHED = "composition_published"
    ANNOUNCEMENT = "announcement"
    WEBHOOK_DISABLED = "webhook_disabled"


class Priority(models.TextChoices):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class Notification(models.Model):
    """A message for one user about a change that concerns them, or a staff announcement."""

    id = models.BigAutoField(primary_key=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    type = models.CharField(max_length=32, choices=NotificationType.choices)
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True, default="")
    # Links: the resource, its episode, and the activity row behind the notification.
    data = models.JSONField(default=dict, blank=True)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    # Not a foreign key: pruning the log must not touch the notifications it caused.
    activity_id = models.BigIntegerField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=NotificationType.values), name="notification_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values), name="notification_priority_valid"
            ),
            models.CheckConstraint(condition=~Q(title=""), name="notification_title_not_blank"),
            # Each activity row notifies a user once, however often it is processed.
            models.UniqueConstraint(
                fields=["recipient", "activity_id"],
                condition=Q(activity_id__isnull=False),
                name="notification_once_per_activity",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notification_inbox_idx"),
            # The unread count and the `unread` filter read only this, however long the inbox.
            models.Index(
                fields=["recipient", "-id"],
                condition=Q(read_at__isnull=True),
                name="notification_unread_idx",
            ),
            models.Index(fields=["recipient", "type", "-id"], name="notification_type_idx"),
            models.Index(fields=["expires_at"], name="notification_expires_idx"),
            models.Index(fields=["read_at"], name="notification_read_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(VersionedModel):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="notification_preference",
    )
    muted_types = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # 0 only for the defaults of a user who never saved any (activity.notifications.selectors).
    version = models.PositiveIntegerField(
        default=1, editable=False, help_text="Incremented by every write; the ETag carries it."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(version__gte=1), name="notification_preference_version_min_1"
            ),
            models.CheckConstraint(
                condition=Exact(JSONType("muted_types"), "array"),
                name="notification_preference_muted_is_list",
            ),
        ]

    def __str__(self) -> str:
        return f"notification preferences of {self.user_id}"


class Follow(models.Model):
    """A user asking to hear about every change to an episode."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follows"
    )
    episode = models.ForeignKey(
        "episodes.Episode", on_delete=models.CASCADE, related_name="followers"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["episode", "user"], name="follow_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} follows {self.episode_id}"


class NotificationCursor(models.Model):
    """How far the activity log has been turned into notifications."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_activity_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="notification_cursor_single_row")
        ]

    def __str__(self) -> str:
        return f"notified through activity #{self.last_activity_id}"
