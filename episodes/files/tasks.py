"""Job types of episode files: reading a new file's metadata, removing a deleted one's bytes."""

from typing import Any

from django.tasks import task
from rest_framework import serializers

from episode_metadata.common.serializer_fields import StrictUUIDField
from episodes.files import metadata, services
from episodes.files.serializers import FileMetadataSerializer
from episodes.models import EpisodeFile
from jobs.registry import job_type


class FilePayload(serializers.Serializer):
    file_id = StrictUUIDField(format="hex_verbose")


class FileMetadataResult(FileMetadataSerializer):
    skipped = serializers.CharField(
        required=False, help_text="Why nothing was read: the file was deleted meanwhile."
    )


class FilePurgeResult(serializers.Serializer):
    purged = serializers.BooleanField(help_text="False when the file was restored meanwhile.")


@job_type(
    "file_metadata",
    payload=FilePayload,
    result=FileMetadataResult,
    timeout_seconds=30 * 60,
    quiet=True,
)
@task
def file_metadata(*, file_id: str) -> dict[str, Any]:
    """Verifies a new file's checksum against its stored bytes and reads its dimensions
    (images) or duration and resolution (videos, where ffprobe is installed)."""
    episode_file = EpisodeFile.objects.filter(pk=file_id, purged_at__isnull=True).first()
    if episode_file is None:
        return {"skipped": "The file no longer exists."}
    found = metadata.extract(episode_file)
    services.save_metadata(episode_file, found)
    return found


@job_type(
    "file_purge", payload=FilePayload, result=FilePurgeResult, timeout_seconds=10 * 60, quiet=True
)
@task
def file_purge(*, file_id: str) -> dict[str, Any]:
    """Removes the stored bytes of a file deleted longer ago than the grace period; a file
    restored meanwhile is left alone."""
    return {"purged": services.purge_file(file_id)}
