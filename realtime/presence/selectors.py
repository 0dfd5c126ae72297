"""Who is viewing an episode, read from the presence table.

Expired rows are left out here rather than trusted to be gone: a crashed process's rows
stay until some sweeper deletes them, and lists must be right before that.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Max, Min, Q
from django.utils import timezone

from realtime.models import Presence

# The connection of a user's reads over REST: one row per user and episode.
HTTP = "http"


@dataclass(frozen=True)
class Viewer:
    id: int
    username: str
    # When the user's earliest unexpired viewing of the episode began.
    since: datetime

    def as_event_data(self) -> dict[str, Any]:
        return {**self.summary(), "since": self.since.isoformat()}

    def summary(self) -> dict[str, Any]:
        """As `user_summary` names the user."""
        return {"id": self.id, "username": self.username}


def episode_viewers(*, episode_id: uuid.UUID | str, now: datetime | None = None) -> list[Viewer]:
    """One entry per user however many sockets and reads they view the episode with,
    longest viewing first."""
    rows = (
        Presence.objects.filter(episode_id=episode_id, expires_at__gt=now or timezone.now())
        .values("user_id", "user__username")
        .annotate(since=Min("since"))
        .order_by("since", "user_id")
    )
    return [Viewer(row["user_id"], row["user__username"], row["since"]) for row in rows]


def viewers_and_own_read(
    *, episode_id: uuid.UUID | str, user_id: int, now: datetime
) -> tuple[list[Viewer], datetime | None]:
    """The episode's viewers other than `user_id`, and until when `user_id`'s reads over REST
    keep them a viewer (None: they do not), in one query."""
    rows = (
        Presence.objects.filter(episode_id=episode_id, expires_at__gt=now)
        .values("user_id", "user__username")
        .annotate(since=Min("since"), read_until=Max("expires_at", filter=Q(connection=HTTP)))
        .order_by("since", "user_id")
    )
    others, read_until = [], None
    for row in rows:
        if row["user_id"] == user_id:
            read_until = row["read_until"]
        else:
            others.append(Viewer(row["user_id"], row["user__username"], row["since"]))
    return others, read_until


def is_viewing(*, episode_id: uuid.UUID | str, user_id: int, now: datetime) -> bool:
    return Presence.objects.filter(
        episode_id=episode_id, user_id=user_id, expires_at__gt=now
    ).exists()


def has_rows(*, episode_id: uuid.UUID | str, user_id: int) -> bool:
    """Whether any row, even an expired one not swept yet, keeps the user on the episode;
    the last one deleted announces the departure."""
    return Presence.objects.filter(episode_id=episode_id, user_id=user_id).exists()


def user_summary(user_id: int) -> dict[str, Any]:
    """How presence events name a user: as the API names a creator, by id and username."""
    username = (
        get_user_model().objects.filter(pk=user_id).values_list("username", flat=True).first()
    )
    return {"id": user_id, "username": username}


def expired_viewings(*, now: datetime, limit: int) -> list[tuple[uuid.UUID, int]]:
    """(episode, user) pairs with rows past their expiry."""
    return list(
        Presence.objects.filter(expires_at__lte=now)
        .values_list("episode_id", "user_id")
        .distinct()[:limit]
    )
