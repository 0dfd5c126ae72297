"""Reads of users' API tokens, for revoking them in bulk."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from knox.models import AuthToken


def user_exists(username: str) -> bool:
    return get_user_model().objects.filter(username=username).exists()


def tokens(
    *, username: str | None = None, created_before: datetime | None = None
) -> QuerySet[AuthToken]:
    """Every user's tokens, or one user's, optionally only those created before a time."""
    found = AuthToken.objects.all()
    if username is not None:
        found = found.filter(user__username=username)
    if created_before is not None:
        found = found.filter(created__lt=created_before)
    return found
