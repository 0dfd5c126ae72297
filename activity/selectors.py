import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from activity import visibility
from activity.models import ActivityLog
from episode_metadata.common.user_serializers import with_user_summaries


def activity_list(reader: AbstractBaseUser | AnonymousUser | None) -> QuerySet[ActivityLog]:
    """The rows `reader` may read (`visibility`), with the actor joined: every row shows who
    acted. No reader is the service itself or an operator's command: every row."""
    rows = with_user_summaries(ActivityLog.objects.all(), "actor")
    readable = None if reader is None else visibility.readable_rows(reader)
    return rows if readable is None else rows.filter(readable)


def episode_activity(reader: AbstractBaseUser, *, episode_id: uuid.UUID) -> QuerySet[ActivityLog]:
    return activity_list(reader).filter(episode_id=episode_id)


def actors_in_log(*, limit: int) -> QuerySet:
    """Users the log names, alphabetically; capped so a filter list stays usable with many."""
    named = ActivityLog.objects.filter(actor__isnull=False).values("actor_id")
    return get_user_model().objects.filter(pk__in=named).order_by("username")[:limit]
