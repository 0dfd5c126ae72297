import uuid

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from activity.models import ActivityLog


def activity_list() -> QuerySet[ActivityLog]:
    """The log as readers see it: with the actor joined, since every row shows who acted."""
    return ActivityLog.objects.select_related("actor")


def episode_activity(*, episode_id: uuid.UUID) -> QuerySet[ActivityLog]:
    return activity_list().filter(episode_id=episode_id)


def actors_in_log(*, limit: int) -> QuerySet:
    """Users the log names, alphabetically; capped so a filter list stays usable with many."""
    named = ActivityLog.objects.filter(actor__isnull=False).values("actor_id")
    return get_user_model().objects.filter(pk__in=named).order_by("username")[:limit]
