"""Reads about users: their API tokens, for revoking them in bulk, and what a user may do, for
clients that offer only the actions the service would allow."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User
from django.db.models import QuerySet
from knox.models import AuthToken

from episode_metadata.common.permissions import allowed
from episodes import roles


def user_exists(username: str) -> bool:
    return get_user_model().objects.filter(username=username).exists()


def tokens(
    *,
    username: str | None = None,
    created_before: datetime | None = None,
    expired_by: datetime | None = None,
) -> QuerySet[AuthToken]:
    """Every user's tokens, or one user's, optionally only those created before a time or
    those expired by one."""
    found = AuthToken.objects.all()
    if username is not None:
        found = found.filter(user__username=username)
    if created_before is not None:
        found = found.filter(created__lt=created_before)
    if expired_by is not None:
        found = found.filter(expiry__lt=expired_by)
    return found


def role_names(user: User) -> list[str]:
    """The roles the user holds, in the order episodes/roles.py lists them (staff is a flag of
    the user, not a role)."""
    held = set(user.groups.values_list("name", flat=True))
    return [role for role in roles.ROLES if role in held]


def permission_names(user: User) -> list[str]:
    """Every permission the user has, each asked of `allowed` as every door asks it: staff,
    who hold none themselves, are listed with all of them."""
    defined = Permission.objects.values_list("content_type__app_label", "codename")
    return sorted(
        name for name in (f"{app}.{codename}" for app, codename in defined) if allowed(user, name)
    )


def transitions(user: User) -> dict[str, list[str]]:
    """For each episode status, the statuses the user may move an episode to from it."""
    return {status: roles.transitions_for(user, status) for status in roles.WORKFLOW}
