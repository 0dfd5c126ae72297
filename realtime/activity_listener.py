"""Activity's events, delivered live: each commit wakes the hubs, and a user's own events go
to that user's topic."""

from typing import Any

from activity import events
from activity.models import ActivityLog
from activity.notifications import live
from realtime import broadcast


class Broadcaster(events.Listener):
    def activity_committed(self, entry: ActivityLog) -> None:
        broadcast.announce_activity()

    def user_event(self, user_id: int, event: str, data: dict[str, Any]) -> None:
        broadcast.publish_ephemeral(live.user_topic(user_id), event, data)


BROADCASTER = Broadcaster()
