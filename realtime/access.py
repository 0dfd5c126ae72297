"""What one connection's user may read, as a snapshot of answers.

The hub's fan-out asks it about every event for every socket, so it holds answers, never a user
to ask the database about: `allowed` (the one door every permission check goes through) is
asked once per permission the stream uses, when the socket connects and again whenever the
user's roles change. Topics and row rules name the permissions they ask about (`watch`) as
they are registered, at start-up.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from episode_metadata.common.permissions import allowed, is_staff

_watched: set[str] = set()


def watch(permission: str) -> str:
    """Name a permission the stream asks about: every snapshot holds its answer."""
    _watched.add(permission)
    return permission


@dataclass(frozen=True, slots=True)
class Access:
    user_id: int | None
    # Active staff see every resource, whoever it belongs to (and hold every permission).
    staff: bool
    permissions: frozenset[str]

    def has(self, permission: str) -> bool:
        return permission in self.permissions


NOBODY = Access(user_id=None, staff=False, permissions=frozenset())


def of(user: AbstractBaseUser) -> Access:
    """The user's access now (queries the database: call it off the event loop)."""
    return Access(
        user_id=user.pk,
        staff=is_staff(user),
        permissions=frozenset(permission for permission in _watched if allowed(user, permission)),
    )


def reread(user_id: int) -> Access:
    """The user's access as the database holds it now, after a change to their roles; nobody's
    once the user is deactivated or gone."""
    user = get_user_model()._default_manager.filter(pk=user_id, is_active=True).first()
    return NOBODY if user is None else of(user)
