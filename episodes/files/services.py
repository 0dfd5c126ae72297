"""Writes to episode files: storing uploads and generated files, deleting and purging them."""

import hashlib
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError
from rest_framework.exceptions import ValidationError

from activity import services as activity_services
from activity.models import Action
from episodes.files import sniffing, uploads
from episodes.models import Episode, EpisodeFile, FileKind
from jobs import registry
from jobs import services as job_services
from jobs.models import Job

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


def upload_file(
    *, episode: Episode, user: "User", received: uploads.ReceivedFile
) -> tuple[EpisodeFile, Job]:
    """Store an upload whose bytes match what it claims to be; its metadata job follows."""
    if received.size == 0:
        raise ValidationError({"file": ["The file is empty."]})
    try:
        sniffed = sniffing.sniff(received.head, claimed=received.claimed)
    except sniffing.ContentMismatch as exc:
        raise ValidationError({"file": [str(exc)]}) from None
    if received.size > uploads.limit_for(sniffed.kind):
        raise uploads.too_large(sniffed.kind)
    if sniffed.kind == FileKind.IMAGE:
        _check_readable_image(received.temporary_file_path())
    return _store(
        episode=episode,
        name=received.name,
        sniffed=sniffed,
        size=received.size,
        sha256=received.sha256,
        content=received,
        user=user,
    )


def store_generated_file(
    *,
    episode: Episode,
    name: str,
    content: bytes,
    content_type: str,
    user: "User | None" = None,
) -> EpisodeFile:
    """Store bytes the service made itself (a render), as a file of the episode."""
    sniffed = sniffing.sniff(content[: sniffing.HEAD_BYTES], claimed=content_type)
    episode_file, _ = _store(
        episode=episode,
        name=name,
        sniffed=sniffed,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=ContentFile(content),
        user=user,
    )
    return episode_file


def _check_readable_image(path: str) -> None:
    """An image the service cannot open is no use as a thumbnail asset; say so at once."""
    try:
        with Image.open(path) as image:
            image.size  # noqa: B018 - reading the header is the check
    except Image.DecompressionBombError:
        raise ValidationError({"file": ["The image has too many pixels."]}) from None
    except (UnidentifiedImageError, OSError):
        raise ValidationError({"file": ["The image cannot be read."]}) from None


def _store(
    *,
    episode: Episode,
    name: str,
    sniffed: sniffing.Sniffed,
    size: int,
    sha256: str,
    content: File,
    user: "User | None",
) -> tuple[EpisodeFile, Job]:
    episode_file = EpisodeFile(
        episode=episode,
        original_name=name[:255] or "unnamed",
        kind=sniffed.kind,
        content_type=sniffed.content_type,
        size=size,
        sha256=sha256,
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )
    # The bytes go first: a row never points at nothing. If the row fails, they go again.
    try:
        episode_file.file.save(name, content, save=False)
    except OSError as exc:
        # A copy across filesystems that ran out of room leaves part of the file behind.
        default_storage.delete(episode_file.file.field.generate_filename(episode_file, name))
        if uploads.no_space(exc):
            raise uploads.storage_full(exc, str(settings.MEDIA_ROOT)) from exc
        raise
    try:
        with transaction.atomic():
            episode_file.save()
            job = _enqueue("file_metadata", episode_file, user=user)
    except BaseException:
        default_storage.delete(episode_file.stored_name)
        raise
    return episode_file, job


def _enqueue(job_name: str, episode_file: EpisodeFile, *, user, run_after=None) -> Job:
    declared = registry.get(job_name)
    if declared is None:  # episodes.files.tasks registers it when the app loads
        raise LookupError(f"The job type {job_name!r} is not registered.")
    return job_services.enqueue(
        declared,
        {"file_id": str(episode_file.pk)},
        user=user,
        episode_id=episode_file.episode_id,
        run_after=run_after,
    )


@transaction.atomic
def delete_file(episode_file: EpisodeFile, *, user: "User") -> Job:
    """Hide the file now; its bytes are purged once the grace period has passed."""
    episode_file.deleted_at = timezone.now()
    episode_file.save(update_fields=["deleted_at"])
    grace = timedelta(hours=settings.FILES_PURGE_AFTER_HOURS)
    return _enqueue(
        "file_purge", episode_file, user=user, run_after=episode_file.deleted_at + grace
    )


def purge_file(file_id: str) -> bool:
    """Remove a deleted file's stored bytes once its grace period is over; False if it was
    restored, purged already, or is still within its grace period."""
    grace_over = timezone.now() - timedelta(hours=settings.FILES_PURGE_AFTER_HOURS)
    with transaction.atomic():
        episode_file = (
            EpisodeFile.objects.select_for_update()
            .filter(pk=file_id, deleted_at__lte=grace_over, purged_at__isnull=True)
            .first()
        )
        if episode_file is None:
            return False
        episode_file.purged_at = timezone.now()
        episode_file.save(update_fields=["purged_at"])
    # After the commit: if the delete fails the job's retry finds the row purged, so a
    # leftover is logged rather than retried forever.
    remove_stored([episode_file.stored_name])
    return True


def remove_stored(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.exception("could not remove stored file %s; remove it by hand", name)


def record_download(episode_file: EpisodeFile) -> None:
    activity_services.record(episode_file, action=Action.DOWNLOAD, changes={})


def save_metadata(episode_file: EpisodeFile, metadata: dict[str, Any]) -> EpisodeFile:
    episode_file.metadata = metadata
    episode_file.save(update_fields=["metadata"])
    return episode_file
