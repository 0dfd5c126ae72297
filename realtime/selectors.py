from django.db.models import Max

from activity import formatting
from activity.models import ActivityLog, RetentionMark
from realtime import topics as topic_rules

_EVENT_FIELDS = (
    "id",
    "timestamp",
    "actor_id",
    "actor_label",
    "action",
    "resource_type",
    "resource_id",
    "resource_repr",
    "episode_id",
    "changes",
    "metadata",
    "request_id",
    "source",
)


def latest_activity_id() -> int:
    return ActivityLog.objects.aggregate(latest=Max("id"))["latest"] or 0


def pruned_through() -> int:
    mark = RetentionMark.objects.filter(pk=1).first()
    return mark.pruned_through if mark else 0


def activity_after(after_id: int, *, limit: int) -> list[ActivityLog]:
    """The next committed rows past a cursor, in id order (which is commit order), described
    here, on the reader's thread: the event loop that encodes them must not query."""
    return formatting.describe_rows(
        ActivityLog.objects.filter(id__gt=after_id).order_by("id").only(*_EVENT_FIELDS)[:limit]
    )


def activity_for_topics(
    topics: set[str], *, after_id: int, up_to_id: int, limit: int
) -> list[ActivityLog]:
    return formatting.describe_rows(
        ActivityLog.objects.filter(
            topic_rules.rows_filter(topics), id__gt=after_id, id__lte=up_to_id
        )
        .order_by("id")
        .only(*_EVENT_FIELDS)[:limit]
    )
