"""Who hears about episodes and what hangs off them.

The people concerned with an episode are whoever created it or changed it, and whoever
follows it. A new episode concerns the staff (the producers who schedule it).
"""

import uuid

from django.contrib.auth import get_user_model

from activity.models import Action, ActivityLog, Follow, NotificationType, Priority, Source
from activity.notifications.rules import Planned, actor_name, links_to, register, summary_of
from episodes.models import Episode

# Changed on every save, so naming them in a message says nothing.
BOOKKEEPING_FIELDS = frozenset({"updated_by", "updated_at"})


def concerned_with(episode_id: uuid.UUID | None) -> set[int]:
    """Creator, everyone who changed the episode, and its followers; nobody for an entry
    about no episode."""
    if episode_id is None:
        return set()
    changed = ActivityLog.objects.filter(
        episode_id=episode_id, resource_type="episode", actor__isnull=False
    ).values_list("actor_id", flat=True)
    created = Episode.objects.filter(pk=episode_id, created_by__isnull=False).values_list(
        "created_by_id", flat=True
    )
    followers = Follow.objects.filter(episode_id=episode_id).values_list("user_id", flat=True)
    return {*changed, *created, *followers}


def _episode_created(entry: ActivityLog) -> Planned:
    staff = get_user_model().objects.filter(is_staff=True).values_list("pk", flat=True)
    return Planned(
        type=NotificationType.EPISODE_CREATED,
        title=f"New episode: {entry.resource_repr}",
        message=f"{actor_name(entry)} created it.",
        recipients=set(staff),
        data=links_to(entry),
    )


def _episode_updated(entry: ActivityLog) -> Planned:
    if entry.action == Action.RESTORE:
        message = f"{actor_name(entry)} restored it."
    else:
        changed = sorted(set(entry.changes) - BOOKKEEPING_FIELDS)
        message = f"{actor_name(entry)} changed {', '.join(changed)}."
    return Planned(
        type=NotificationType.EPISODE_UPDATED,
        title=f"{entry.resource_repr} was updated",
        message=message,
        recipients=concerned_with(entry.episode_id),
        data=links_to(entry),
    )


def _episode_deleted(entry: ActivityLog) -> Planned:
    return Planned(
        type=NotificationType.EPISODE_DELETED,
        title=f"{entry.resource_repr} was deleted",
        message=f"{actor_name(entry)} deleted it.",
        recipients=concerned_with(entry.episode_id),
        priority=Priority.HIGH,
        data=links_to(entry),
    )


def _file_uploaded(entry: ActivityLog) -> Planned | None:
    if entry.source == Source.JOB:
        return None  # a job's own output: its completion says so once
    summary = summary_of(entry)
    return Planned(
        type=NotificationType.FILE_UPLOADED,
        title=f"New file: {entry.resource_repr}",
        message=f"{actor_name(entry)} uploaded {entry.resource_repr} "
        f"({summary.get('kind', 'file')}).",
        recipients=concerned_with(entry.episode_id),
        priority=Priority.LOW,
        data=links_to(entry),
    )


def _composition_published(entry: ActivityLog) -> Planned:
    return Planned(
        type=NotificationType.COMPOSITION_PUBLISHED,
        title=f"Thumbnail published: {entry.resource_repr}",
        message=f"{actor_name(entry)} published it.",
        recipients=concerned_with(entry.episode_id),
        data=links_to(entry),
    )


def register_rules() -> None:
    register("episode", Action.CREATE, _episode_created, readable_with="episodes.view_episode")
    register("episode", Action.UPDATE, _episode_updated, readable_with="episodes.view_episode")
    register("episode", Action.RESTORE, _episode_updated, readable_with="episodes.view_episode")
    register("episode", Action.DELETE, _episode_deleted, readable_with="episodes.view_episode")
    register("file", Action.UPLOAD, _file_uploaded, readable_with="episodes.view_episodefile")
    register(
        "composition",
        Action.PUBLISH,
        _composition_published,
        readable_with="episodes.view_composition",
    )
