import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models


class Episode(models.Model):
    """The columns of `episodes.models.Episode`, with its ordering and the index it pages by."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    season_number = models.PositiveIntegerField(null=True, blank=True)
    episode_number = models.PositiveIntegerField(null=True, blank=True)
    air_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, default="draft")
    categories = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="episodes_created",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="episodes_updated",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    # Django's default manager, named for the type checker: its settings install no bench app.
    objects: ClassVar[models.Manager["Episode"]]

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title
