import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

URL_MAX_LENGTH = 2000


class WebhookEndpoint(models.Model):
    """A URL that receives the events it subscribed to, signed with its own secret."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=URL_MAX_LENGTH)
    # Event names as the live stream has them (`episode_created`), checked on every write.
    event_types = models.JSONField(default=list)
    description = models.CharField(max_length=255, blank=True, default="")
    is_active = models.BooleanField(default=True)
    # `whsec_` and the base64 of the key, as Standard Webhooks receivers take it.
    secret = models.CharField(max_length=100, editable=False)
    # Deliveries that gave up in a row; reset by one that gets through.
    consecutive_dead = models.PositiveIntegerField(default=0)
    # Set when the service disabled it for failing; cleared when staff turn it back on.
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # staff are few, and so are endpoints: nothing looks them up by it
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(url__startswith="http://") | Q(url__startswith="https://"),
                name="webhook_url_http",
            ),
            models.CheckConstraint(
                condition=Q(secret__startswith="whsec_"),  # noqa: S106 - the prefix, no secret
                name="webhook_secret",
            ),
        ]
        indexes = [
            # The dispatcher reads the active endpoints for every batch of the log.
            models.Index(fields=["is_active"], name="webhook_active_idx"),
            models.Index(fields=["created_at"], name="webhook_created_idx"),
        ]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # waiting for its first attempt
    RETRYING = "retrying"  # an attempt failed; another is scheduled
    DELIVERED = "delivered"
    DEAD = "dead"  # every attempt failed (or the endpoint was disabled): redeliver by hand


class WebhookDelivery(models.Model):
    """One event for one endpoint, however many attempts it takes. Its id is the
    `webhook-id` the receiver dedupes by, the same on every attempt and redelivery."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,  # webhook_delivery_list_idx leads with it
    )
    # Not a foreign key: pruning the log must not touch what was sent.
    activity_id = models.BigIntegerField()
    event_type = models.CharField(max_length=64)
    # The body's `data`, as the live event carries it; the body is built from it every attempt.
    payload = models.JSONField(default=dict)
    event_timestamp = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # The job sending it now or last; gone once the job is purged.
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status"
            ),
            # An event reaches an endpoint once, however often the log is read.
            models.UniqueConstraint(
                fields=["endpoint", "activity_id"], name="webhook_delivery_once"
            ),
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.DELIVERED) | Q(delivered_at__isnull=False),
                name="webhook_delivered_has_time",
            ),
        ]
        indexes = [
            # An endpoint's deliveries, newest first, and filtered by status.
            models.Index(fields=["endpoint", "created_at"], name="webhook_delivery_list_idx"),
            models.Index(
                fields=["endpoint", "status", "created_at"], name="webhook_delivery_status_idx"
            ),
            # The retention purge.
            models.Index(fields=["created_at"], name="webhook_delivery_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id} ({self.status})"


class WebhookCursor(models.Model):
    """How far the dispatcher has read the activity log: the last row it made deliveries of."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_activity_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="webhook_cursor_single_row")]

    def __str__(self) -> str:
        return f"webhooks dispatched through #{self.last_activity_id}"
