from django.db.models import Count, QuerySet
from rest_framework.exceptions import NotFound

from episode_metadata.common.user_serializers import with_user_summaries
from episodes.models import Episode, EpisodeStatus


def episode_list(*, include_deleted: bool = False) -> QuerySet[Episode]:
    """Episodes as the API shows them: soft-deleted ones only when asked for."""
    queryset = with_user_summaries(Episode.objects.all(), "created_by", "updated_by")
    if not include_deleted:
        queryset = queryset.filter(deleted_at__isnull=True)
    return queryset


def status_counts() -> dict[str, int]:
    """Live episodes per status, in workflow order, zero included: a summary that does not
    depend on which statuses happen to have episodes."""
    counted = dict(
        Episode.objects.filter(deleted_at__isnull=True)
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {status: counted.get(status, 0) for status in EpisodeStatus.values}


def number_taken(*, season_number: int | None, episode_number: int | None, exclude_id=None) -> bool:
    """Whether a live episode other than `exclude_id` already has this season/episode pair."""
    if season_number is None or episode_number is None:
        return False
    clash = Episode.objects.filter(
        deleted_at__isnull=True, season_number=season_number, episode_number=episode_number
    )
    if exclude_id is not None:
        clash = clash.exclude(pk=exclude_id)
    return clash.exists()


def existing_episode_ids(episode_ids: set[str]) -> set[str]:
    """Which of these episodes exist, deleted or not."""
    return {
        str(pk) for pk in Episode.objects.filter(pk__in=episode_ids).values_list("pk", flat=True)
    }


def locked_version(episode: Episode) -> int:
    """The episode's stored version, its row locked until the transaction ends."""
    version = (
        Episode.objects.select_for_update()
        .filter(pk=episode.pk)
        .values_list("version", flat=True)
        .first()
    )
    if version is None:
        raise NotFound("The episode no longer exists.")
    return version
