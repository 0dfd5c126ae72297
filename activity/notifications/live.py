"""Telling a user's open dashboards about their notifications, and nobody else's.

Each connection to /ws/events/ listens on its user's own topic, `user:<id>`, which no
client can subscribe to. The events are ephemeral: a dashboard that was away reads its
notifications and unread count over the API when it comes back.
"""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from rest_framework.serializers import Serializer

from activity import events
from activity.models import Notification
from activity.notifications import selectors
from activity.notifications.serializers import NotificationSerializer


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


def created(notifications: Iterable[Notification]) -> None:
    recipients = set()
    for notification in notifications:
        recipients.add(notification.recipient_id)
        # As the base class: to the stubs, NotificationSerializer's `data` is its field.
        serializer: Serializer = NotificationSerializer(notification)
        events.user_event(notification.recipient_id, "notification_created", dict(serializer.data))
    for user_id in sorted(recipients):
        unread_count_changed(user_id)


def unread_count_changed(user_id: int) -> None:
    user = get_user_model()(pk=user_id)
    unread, capped = selectors.unread_count(user)
    events.user_event(user_id, "unread_count_changed", {"unread": unread, "capped": capped})
