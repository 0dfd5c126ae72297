from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.utils import timezone

from activity.models import Follow, Notification, NotificationPreference

# Past this, a badge shows "999+": counting stays bounded however large the backlog.
UNREAD_COUNT_CAP = 999


def notification_list(user: User) -> QuerySet[Notification]:
    """A user's own notifications that have not expired."""
    return Notification.objects.filter(recipient=user).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )


def unread_count(user: User) -> tuple[int, bool]:
    """How many unread, read off the partial index of unread ones, at most the cap."""
    unread = notification_list(user).filter(read_at__isnull=True)
    count = unread.values("pk")[: UNREAD_COUNT_CAP + 1].count()
    return min(count, UNREAD_COUNT_CAP), count > UNREAD_COUNT_CAP


def preference(user: User) -> NotificationPreference:
    """The user's preferences; nothing muted until they say otherwise, as version 0: the
    first save makes version 1."""
    found = NotificationPreference.objects.filter(user=user).first()
    return found or NotificationPreference(user=user, muted_types=[], version=0)


def is_following(user: User, episode_id) -> bool:
    return Follow.objects.filter(user=user, episode_id=episode_id).exists()
