"""Which activity becomes which notification, and for whom.

The app that owns a kind of resource knows who cares about it, so each registers its rules
at start-up, one per resource type and action; activity with no rule makes no
notification. The actor is never told about their own change, and nobody is told about a
resource they may not read (a follower whose role was taken away, say): each rule is
registered with the permission reading its resource takes.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model

from activity.models import ActivityLog, NotificationPreference, Priority
from episode_metadata.common.permissions import allowed, with_permissions


@dataclass(frozen=True)
class Planned:
    type: str
    title: str
    message: str
    recipients: set[int]
    priority: str = Priority.NORMAL
    data: dict[str, Any] = field(default_factory=dict)


Rule = Callable[[ActivityLog], Planned | None]

_rules: dict[tuple[str, str], tuple[Rule, str]] = {}


def register(resource_type: str, action: str, rule: Rule, *, readable_with: str) -> None:
    """`readable_with`: the permission (`app_label.codename`) a recipient must hold."""
    _rules[(resource_type, action)] = (rule, readable_with)


def applies_to(resource_type: str, action: str) -> bool:
    """Whether any rule could make a notification of such activity."""
    return (resource_type, action) in _rules


def plan(entry: ActivityLog) -> Planned | None:
    registered = _rules.get((entry.resource_type, entry.action))
    if registered is None:
        return None
    rule, permission = registered
    planned = rule(entry)
    if planned is None:
        return None
    planned.recipients.discard(entry.actor_id)
    if planned.recipients:  # most activity concerns nobody: no need to ask who may read it
        planned.recipients.difference_update(_unable_to_read(planned.recipients, permission))
    return planned


def _unable_to_read(user_ids: set[int], permission: str) -> set[int]:
    users = with_permissions(get_user_model().objects.filter(pk__in=user_ids))
    return {user.pk for user in users if not allowed(user, permission)}


def actor_name(entry: ActivityLog) -> str:
    return entry.actor_label or "The system"


def summary_of(entry: ActivityLog) -> dict[str, Any]:
    return entry.metadata.get("summary", {})


def links_to(entry: ActivityLog) -> dict[str, Any]:
    """What a notification carries to lead back to the resource and the activity."""
    return {
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "episode_id": str(entry.episode_id) if entry.episode_id else None,
        "activity_id": entry.id,
    }


def muted_or_inactive(user_ids: set[int], notification_type: str) -> set[int]:
    """Of these users, those who would not get this type: muted it, or no longer active."""
    muted = NotificationPreference.objects.filter(
        user_id__in=user_ids, muted_types__has_element=notification_type
    ).values_list("user_id", flat=True)
    inactive = get_user_model().objects.filter(pk__in=user_ids, is_active=False)
    return {*muted, *inactive.values_list("pk", flat=True)}
