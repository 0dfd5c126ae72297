import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact, LessThanOrEqual

from episode_metadata.common.db_functions import JSONArrayLength, JSONType
from episode_metadata.common.versioning import VersionedModel

if TYPE_CHECKING:
    from realtime.presence.selectors import Viewer


class EpisodeStatus(models.TextChoices):
    DRAFT = "draft"
    PENDING = "pending"
    APPROVED = "approved"
    PUBLISHED = "published"
    ARCHIVED = "archived"
    REJECTED = "rejected"


MAX_CATEGORIES = 20
MAX_CATEGORY_LENGTH = 50


class Episode(VersionedModel):
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
    version = models.PositiveIntegerField(
        default=1, editable=False, help_text="Incremented by every write; the ETag carries it."
    )
    # Not stored: who else views the episode, set by the detail view for its serializer.
    viewers: list["Viewer"]

    class Meta:
        ordering = ["-created_at"]
        # The workflow's steps beyond editing (episodes/roles.py).
        permissions = [
            ("approve_episode", "Can approve or reject episodes"),
            ("publish_episode", "Can publish episodes"),
            ("archive_episode", "Can archive episodes"),
            ("restore_episode", "Can restore deleted episodes"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="episode_title_not_blank"),
            models.CheckConstraint(condition=Q(version__gte=1), name="episode_version_min_1"),
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


class FileKind(models.TextChoices):
    VIDEO = "video"
    IMAGE = "image"
    SCRIPT = "script"
    OTHER = "other"


def _stored_name(instance: "EpisodeFile", filename: str) -> str:
    # The id, not the uploader's name, keeps paths unique and free of anything they typed;
    # a plain extension is kept for whoever browses the storage.
    suffix = Path(filename).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,10}", suffix):
        suffix = ""
    return f"episodes/{instance.episode_id}/files/{instance.pk}{suffix}"


class EpisodeFile(models.Model):
    """A file of an episode's production. Deleting one hides it at once; a job removes the
    stored bytes after a grace period (`purged_at`), so a mistaken delete can be undone."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="files")
    original_name = models.CharField(max_length=255)
    kind = models.CharField(max_length=8, choices=FileKind.choices)
    content_type = models.CharField(max_length=127)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=_stored_name, max_length=255)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="episode_files",
    )
    # Filled in by the `file_metadata` job: width/height, duration, checksum verification.
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    # Not stored: the job reading a new upload's metadata, set by the upload view.
    metadata_job: uuid.UUID

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=FileKind.values), name="episode_file_kind_valid"
            ),
            models.CheckConstraint(condition=Q(size__gte=1), name="episode_file_not_empty"),
            models.CheckConstraint(
                condition=Exact(Length("sha256"), 64), name="episode_file_sha256_length"
            ),
            models.CheckConstraint(
                condition=~Q(original_name=""), name="episode_file_name_not_blank"
            ),
            models.CheckConstraint(
                condition=Q(purged_at__isnull=True) | Q(deleted_at__isnull=False),
                name="episode_file_purged_only_when_deleted",
            ),
            models.CheckConstraint(
                condition=Exact(JSONType("metadata"), "object"),
                name="episode_file_metadata_is_object",
            ),
        ]
        indexes = [
            models.Index(fields=["episode", "-created_at"], name="episode_file_list_idx"),
            models.Index(fields=["episode", "kind"], name="episode_file_kind_idx"),
            models.Index(fields=["episode", "original_name"], name="episode_file_name_idx"),
            models.Index(fields=["deleted_at"], name="episode_file_deleted_idx"),
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def stored_name(self) -> str:
        """The name the storage keeps the bytes under. A saved file always has its bytes
        stored first, so a row without one is broken, not a file to skip."""
        if not self.file.name:
            raise ValueError(f"File {self.pk} has no stored bytes.")
        return self.file.name


class CompositionLayout(models.TextChoices):
    SINGLE = "single"
    SPLIT = "split"
    GRID = "grid"
    FEATURE = "feature"


class CompositionStatus(models.TextChoices):
    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHED = "published"


MAX_COMPOSITION_ASSETS = 9


class Composition(VersionedModel):
    """A thumbnail design: image files of the episode laid out and rendered per platform.

    `assets` (file ids, in order) and `formats` (output format names) are JSON lists: each is
    one value that is versioned, diffed in the activity log and reverted as a whole.
    `version` counts content versions; `revision` counts every write (a status, the primary
    flag, a render recorded too) and is what the ETag carries.
    """

    version_field = "revision"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="compositions")
    name = models.CharField(max_length=200)
    layout = models.CharField(max_length=16, choices=CompositionLayout.choices)
    assets = models.JSONField(default=list)
    formats = models.JSONField(default=list)
    status = models.CharField(
        max_length=16, choices=CompositionStatus.choices, default=CompositionStatus.DRAFT
    )
    is_primary = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    # The version the latest completed render drew, and the episode file made per format.
    rendered_version = models.PositiveIntegerField(null=True, blank=True)
    renders = models.JSONField(default=dict, blank=True)
    revision = models.PositiveIntegerField(
        default=1, editable=False, help_text="Incremented by every write; the ETag carries it."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="compositions_created",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("approve_composition", "Can approve compositions"),
            ("publish_composition", "Can publish compositions"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="composition_name_not_blank"),
            models.CheckConstraint(
                condition=Q(layout__in=CompositionLayout.values), name="composition_layout_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CompositionStatus.values), name="composition_status_valid"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="composition_version_min_1"),
            models.CheckConstraint(condition=Q(revision__gte=1), name="composition_revision_min_1"),
            models.CheckConstraint(
                condition=Exact(JSONType("assets"), "array"), name="composition_assets_is_list"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(JSONArrayLength("assets"), MAX_COMPOSITION_ASSETS),
                name="composition_assets_max_9",
            ),
            models.CheckConstraint(
                condition=Exact(JSONType("formats"), "array"), name="composition_formats_is_list"
            ),
            models.CheckConstraint(
                condition=Exact(JSONType("renders"), "object"),
                name="composition_renders_is_object",
            ),
            models.UniqueConstraint(
                fields=["episode"],
                condition=Q(is_primary=True),
                name="composition_one_primary_per_episode",
                violation_error_message="This episode already has a primary composition.",
            ),
        ]
        indexes = [
            models.Index(fields=["episode", "-created_at"], name="composition_episode_idx"),
            models.Index(fields=["status"], name="composition_status_idx"),
            models.Index(fields=["created_at"], name="composition_created_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class CompositionVersion(models.Model):
    """What a composition looked like at each saved version, to list and revert to."""

    composition = models.ForeignKey(Composition, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    # name, layout, assets and formats as saved at that version.
    snapshot = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["composition", "version"], name="composition_version_unique"
            ),
            models.CheckConstraint(
                condition=Exact(JSONType("snapshot"), "object"),
                name="composition_version_snapshot_is_object",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.composition_id} v{self.version}"
