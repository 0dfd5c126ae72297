"""The roles of a production team and the workflow an episode moves through: who may do what.

A role is a Django group holding model permissions. Each role has what the one before it has,
and more:

- viewer: reads everything the team shares (episodes, files, compositions, jobs, activity).
- editor: creates and edits episodes, uploads files, edits compositions, starts renders and
  exports (jobs).
- approver: approves, rejects, publishes and archives episodes and compositions, deletes and
  restores episodes, cancels and retries anyone's jobs.
- staff (`User.is_staff`, not a group): everything, and the admin.

A user with no role signs in and sees their own account and notifications, nothing else. The
groups are created by a migration and brought in step with `ROLES` after every `migrate`.
docs/permissions.md has the same as a table.
"""

from collections import deque
from itertools import pairwise

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db.models import Q
from rest_framework.exceptions import PermissionDenied, ValidationError

from episode_metadata.common.permissions import allowed, refusal
from episodes.models import EpisodeStatus

VIEWER, EDITOR, APPROVER = "viewer", "editor", "approver"

_VIEWS = frozenset(
    {
        "episodes.view_episode",
        "episodes.view_episodefile",
        "episodes.view_composition",
        "jobs.view_job",
        "activity.view_activitylog",
    }
)
_EDITS = frozenset(
    {
        "episodes.add_episode",
        "episodes.change_episode",
        "episodes.add_episodefile",
        "episodes.add_composition",
        "episodes.change_composition",
        "jobs.add_job",
    }
)
_APPROVALS = frozenset(
    {
        "episodes.approve_episode",
        "episodes.publish_episode",
        "episodes.archive_episode",
        "episodes.delete_episode",
        "episodes.restore_episode",
        "episodes.approve_composition",
        "episodes.publish_composition",
        "jobs.change_job",
    }
)
ROLES: dict[str, frozenset[str]] = {
    VIEWER: _VIEWS,
    EDITOR: _VIEWS | _EDITS,
    APPROVER: _VIEWS | _EDITS | _APPROVALS,
}

# Where an episode may go from each status, and the permission each move needs.
WORKFLOW: dict[str, dict[str, str]] = {
    EpisodeStatus.DRAFT: {EpisodeStatus.PENDING: "episodes.change_episode"},
    EpisodeStatus.PENDING: {
        EpisodeStatus.APPROVED: "episodes.approve_episode",
        EpisodeStatus.REJECTED: "episodes.approve_episode",
        EpisodeStatus.DRAFT: "episodes.change_episode",
    },
    EpisodeStatus.APPROVED: {
        EpisodeStatus.PUBLISHED: "episodes.publish_episode",
        EpisodeStatus.DRAFT: "episodes.change_episode",
    },
    EpisodeStatus.PUBLISHED: {EpisodeStatus.ARCHIVED: "episodes.archive_episode"},
    EpisodeStatus.REJECTED: {EpisodeStatus.DRAFT: "episodes.change_episode"},
    EpisodeStatus.ARCHIVED: {EpisodeStatus.DRAFT: "episodes.change_episode"},
}


def check_transition(user: AbstractBaseUser, current: str, new: str) -> None:
    """Raise unless `user` may move an episode from `current` to `new`: a 400 naming the
    allowed moves, or a 403 naming the missing permission."""
    if new == current:
        return
    problem = transition_problem(current, new)
    if problem is not None:
        raise ValidationError({"status": [problem]})
    permission = WORKFLOW[current][new]
    if not allowed(user, permission):
        raise PermissionDenied(refusal(permission))


def transition_problem(current: str, new: str) -> str | None:
    """Why the workflow has no move from `current` to `new`, naming the moves it has; None if
    it has that move (or none is made)."""
    moves = WORKFLOW[current]
    if new == current or new in moves:
        return None
    allowed_moves = ", ".join(sorted(moves)) or "nowhere"
    return (
        f"An episode cannot go from {current} to {new}; from {current} it can go to "
        f"{allowed_moves}."
    )


def check_creation(user: AbstractBaseUser, status: str) -> None:
    """Raise unless `user` may create an episode in `status`. A new episode starts as a draft;
    created in another status, it makes the workflow's moves from draft to there at once, and
    each needs its permission: an editor may start one as pending, an approver as published."""
    for current, new in pairwise(_path(EpisodeStatus.DRAFT, status)):
        check_transition(user, current, new)


def _path(start: str, end: str) -> list[str]:
    """The shortest way through the workflow from `start` to `end`; a status out of reach is
    one (refused) move away."""
    paths = {start: [start]}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for new in WORKFLOW[current]:
            if new not in paths:
                paths[new] = [*paths[current], new]
                queue.append(new)
    return paths.get(end, [start, end])


def transitions_for(user: AbstractBaseUser, current: str) -> list[str]:
    """The statuses this user may move an episode to from `current`, for the dashboard."""
    return [status for status, permission in WORKFLOW[current].items() if allowed(user, permission)]


def sync_groups(**kwargs) -> None:
    """Give each role's group exactly the permissions `ROLES` names (after every migrate)."""
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for role, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_permission_objects(permissions))


def _permission_objects(names: frozenset[str]) -> list[Permission]:
    wanted = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(wanted))
    if len(found) != len(names):
        missing = names - {f"{p.content_type.app_label}.{p.codename}" for p in found}
        raise LookupError(f"Roles name permissions that do not exist: {sorted(missing)}")
    return found
