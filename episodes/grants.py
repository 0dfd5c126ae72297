"""Giving users roles and taking them away, as operators do with `manage.py grant` and
`manage.py revoke`. A role is a group of `roles.ROLES`, or staff (`User.is_staff`). Each change
is recorded in the activity log, and reaches the user's open sockets, through the signals any
change to groups or to `is_staff` sends (activity.role_changes)."""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from episodes.roles import ROLES

if TYPE_CHECKING:
    from django.contrib.auth.models import User

STAFF = "staff"
ROLE_NAMES = (*ROLES, STAFF)


class UnknownRole(LookupError):
    pass


class UnknownUsers(LookupError):
    pass


def check_role(role: str) -> None:
    if role not in ROLE_NAMES:
        *others, last = ROLE_NAMES
        raise UnknownRole(f"Unknown role {role!r}: use {', '.join(others)} or {last}.")


def users_named(usernames: Iterable[str]) -> list["User"]:
    """The users, in the order named; every one must exist."""
    wanted = list(dict.fromkeys(usernames))
    user_model = get_user_model()
    found = {
        user.get_username(): user
        for user in user_model._default_manager.filter(
            **{f"{user_model.USERNAME_FIELD}__in": wanted}
        )
    }
    missing = [name for name in wanted if name not in found]
    if missing:
        raise UnknownUsers(f"No user named {', '.join(repr(name) for name in missing)}.")
    return [found[name] for name in wanted]


def has_role(user: "User", role: str) -> bool:
    if role == STAFF:
        return user.is_staff
    return user.groups.filter(name=role).exists()


@transaction.atomic
def set_role(user: "User", role: str, *, granted: bool) -> bool:
    """Give (or take away) one role; False when the user already had (or lacked) it."""
    check_role(role)
    if has_role(user, role) == granted:
        return False
    if role == STAFF:
        user.is_staff = granted
        user.save(update_fields=["is_staff"])
    elif granted:
        user.groups.add(_group(role))
    else:
        user.groups.remove(_group(role))
    return True


def _group(role: str) -> Group:
    try:
        return Group.objects.get(name=role)
    except Group.DoesNotExist:
        raise UnknownRole(
            f"The group of role {role!r} is missing: run manage.py migrate."
        ) from None
