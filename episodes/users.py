"""The user an episodes view acts for."""

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def signed_in(user: "User | AnonymousUser") -> "User":
    """The user a view's permissions let in. They let no anonymous caller through; one that
    got here all the same is refused, not written down as the author of a change."""
    if not user.is_authenticated:
        raise PermissionDenied
    return user
