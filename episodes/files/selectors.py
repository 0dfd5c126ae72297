from django.db.models import QuerySet

from episodes.models import EpisodeFile


def file_list(*, episode_id) -> QuerySet[EpisodeFile]:
    """An episode's files as the API shows them: deleted ones are gone from view."""
    return EpisodeFile.objects.filter(
        episode_id=episode_id, deleted_at__isnull=True
    ).select_related("uploaded_by")
