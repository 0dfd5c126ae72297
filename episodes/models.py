import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.lookups import Exact, LessThanOrEqual

from episodes.db_functions import JSONArrayLength, JSONType


class EpisodeStatus(models.TextChoices):
    DRAFT = "draft"
    PENDING = "pending"
    APPROVED = "approved"
    PUBLISHED = "published"
    ARCHIVED = "archived"
    REJECTED = "rejected"


MAX_CATEGORIES = 20
MAX_CATEGORY_LENGTH = 50


class Episode(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    season_number = models.PositiveIntegerField(null=True, blank=True)
    episode_number = models.PositiveIntegerField(null=True, blank=True)
    air_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=EpisodeStatus.choices, default=EpisodeStatus.DRAFT
    )
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="episode_title_not_blank"),
            models.CheckConstraint(
                condition=Q(status__in=EpisodeStatus.values), name="episode_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(season_number__isnull=True) | Q(season_number__gte=1),
                name="episode_season_number_positive",
            ),
            models.CheckConstraint(
                condition=Q(episode_number__isnull=True) | Q(episode_number__gte=1),
                name="episode_episode_number_positive",
            ),
            models.CheckConstraint(
                condition=Exact(JSONType("categories"), "array"),
                name="episode_categories_is_list",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(JSONArrayLength("categories"), MAX_CATEGORIES),
                name="episode_categories_max_20",
            ),
            models.UniqueConstraint(
                fields=["season_number", "episode_number"],
                condition=Q(deleted_at__isnull=True),
                name="episode_number_unique_in_season",
                violation_error_message="A live episode already has this season and episode number.",
            ),
        ]
        indexes = [
            models.Index(fields=["status"], name="episode_status_idx"),
            models.Index(fields=["air_date"], name="episode_air_date_idx"),
            models.Index(fields=["created_at"], name="episode_created_at_idx"),
            models.Index(fields=["updated_at"], name="episode_updated_at_idx"),
            models.Index(fields=["title"], name="episode_title_idx"),
            models.Index(fields=["episode_number"], name="episode_number_idx"),
            models.Index(fields=["season_number"], name="episode_season_idx"),
            models.Index(fields=["deleted_at"], name="episode_deleted_at_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
