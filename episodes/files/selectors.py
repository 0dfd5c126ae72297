from django.db.models import QuerySet

from episode_metadata.common.user_serializers import with_user_summaries
from episodes.models import EpisodeFile


def file_list(*, episode_id) -> QuerySet[EpisodeFile]:
    """An episode's files as the API shows them: deleted ones are gone from view."""
    files = EpisodeFile.objects.filter(episode_id=episode_id, deleted_at__isnull=True)
    return with_user_summaries(files, "uploaded_by")
