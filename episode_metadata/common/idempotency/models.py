from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# How long a key holds its answer; the job processor purges older ones (services.py).
KEY_TTL = timedelta(hours=24)
KEY_MAX_LENGTH = 255


class IdempotencyKey(models.Model):
    """One user's key and the answer of the request that first used it.

    The row is inserted in the same transaction as the request's work and given its answer
    before that transaction commits: a committed row always has one, and a request that fails
    leaves no row behind."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the (user, key) constraint's index serves every lookup by user
    )
    key = models.CharField(max_length=KEY_MAX_LENGTH)
    # SHA-256 of the method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    # The answer's JSON as first sent (a jsonb column would reorder its keys).
    response_data = models.TextField(default="")
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique"),
            # Failures (5xx) are never stored, so that a retry can succeed.
            models.CheckConstraint(
                condition=Q(response_status__gte=100, response_status__lt=500),
                name="idempotency_status_not_a_failure",
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return self.key
