"""Which activity becomes which notification, and for whom.

The people concerned with an episode are whoever created it or changed it, and whoever
follows it. A new episode concerns the staff (the producers who schedule it). A job's
outcome concerns whoever started it. The actor is never told about their own change.
"""

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model

from activity.models import (
    Action,
    ActivityLog,
    Follow,
    NotificationPreference,
    NotificationType,
    Priority,
    Source,
)
from episodes.models import Episode
from jobs import registry
from jobs.models import Job

# Changed on every save, so naming them in a message says nothing.
BOOKKEEPING_FIELDS = frozenset({"updated_by", "updated_at"})


@dataclass(frozen=True)
class Planned:
    type: str
    title: str
    message: str
    recipients: set[int]
    priority: str = Priority.NORMAL
    data: dict[str, Any] = field(default_factory=dict)


def plan(entry: ActivityLog) -> Planned | None:
    rule = _RULES.get((entry.resource_type, entry.action))
    if rule is None:
        return None
    planned = rule(entry)
    if planned is None:
        return None
    planned.recipients.discard(entry.actor_id)
    return planned


def _name(entry: ActivityLog) -> str:
    return entry.actor_label or "The system"


def _summary(entry: ActivityLog) -> dict[str, Any]:
    return entry.metadata.get("summary", {})


def _links(entry: ActivityLog) -> dict[str, Any]:
    return {
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "episode_id": str(entry.episode_id) if entry.episode_id else None,
        "activity_id": entry.id,
    }


def concerned_with(episode_id) -> set[int]:
    """Creator, everyone who changed the episode, and its followers."""
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
        message=f"{_name(entry)} created it.",
        recipients=set(staff),
        data=_links(entry),
    )


def _episode_updated(entry: ActivityLog) -> Planned:
    if entry.action == Action.RESTORE:
        message = f"{_name(entry)} restored it."
    else:
        changed = sorted(set(entry.changes) - BOOKKEEPING_FIELDS)
        message = f"{_name(entry)} changed {', '.join(changed)}."
    return Planned(
        type=NotificationType.EPISODE_UPDATED,
        title=f"{entry.resource_repr} was updated",
        message=message,
        recipients=concerned_with(entry.episode_id),
        data=_links(entry),
    )


def _episode_deleted(entry: ActivityLog) -> Planned:
    return Planned(
        type=NotificationType.EPISODE_DELETED,
        title=f"{entry.resource_repr} was deleted",
        message=f"{_name(entry)} deleted it.",
        recipients=concerned_with(entry.episode_id),
        priority=Priority.HIGH,
        data=_links(entry),
    )


def _job_creator(entry: ActivityLog) -> set[int]:
    creator = Job.objects.filter(pk=entry.resource_id).values_list("created_by_id", flat=True)
    return {user_id for user_id in creator if user_id is not None}


def _job_completed(entry: ActivityLog) -> Planned | None:
    job_type = _summary(entry).get("job_type", "job")
    declared = registry.get(job_type)
    if declared is not None and declared.quiet:
        return None
    return Planned(
        type=NotificationType.JOB_COMPLETED,
        title=f"{job_type} finished",
        message=f"Your {job_type} job completed.",
        recipients=_job_creator(entry),
        priority=Priority.LOW,
        data=_links(entry),
    )


def _job_failed(entry: ActivityLog) -> Planned:
    summary = _summary(entry)
    job_type = summary.get("job_type", "job")
    attempts = summary.get("attempts")
    return Planned(
        type=NotificationType.JOB_FAILED,
        title=f"{job_type} failed",
        message=f"Your {job_type} job failed after {attempts} attempts: "
        f"{summary.get('last_error') or 'no error recorded'}",
        recipients=_job_creator(entry),
        priority=Priority.HIGH,
        data=_links(entry),
    )


def _file_uploaded(entry: ActivityLog) -> Planned | None:
    if entry.source == Source.JOB:
        return None  # a job's own output: its completion says so once
    summary = _summary(entry)
    return Planned(
        type=NotificationType.FILE_UPLOADED,
        title=f"New file: {entry.resource_repr}",
        message=f"{_name(entry)} uploaded {entry.resource_repr} ({summary.get('kind', 'file')}).",
        recipients=concerned_with(entry.episode_id),
        priority=Priority.LOW,
        data=_links(entry),
    )


def _composition_published(entry: ActivityLog) -> Planned:
    return Planned(
        type=NotificationType.COMPOSITION_PUBLISHED,
        title=f"Thumbnail published: {entry.resource_repr}",
        message=f"{_name(entry)} published it.",
        recipients=concerned_with(entry.episode_id),
        data=_links(entry),
    )


_RULES = {
    ("episode", Action.CREATE): _episode_created,
    ("episode", Action.UPDATE): _episode_updated,
    ("episode", Action.RESTORE): _episode_updated,
    ("episode", Action.DELETE): _episode_deleted,
    ("job", Action.COMPLETE): _job_completed,
    ("job", Action.FAIL): _job_failed,
    ("file", Action.UPLOAD): _file_uploaded,
    ("composition", Action.PUBLISH): _composition_published,
}


def muted_or_inactive(user_ids: set[int], notification_type: str) -> set[int]:
    """Of these users, those who would not get this type: muted it, or no longer active."""
    muted = NotificationPreference.objects.filter(
        user_id__in=user_ids, muted_types__has_element=notification_type
    ).values_list("user_id", flat=True)
    inactive = get_user_model().objects.filter(pk__in=user_ids, is_active=False)
    return {*muted, *inactive.values_list("pk", flat=True)}
