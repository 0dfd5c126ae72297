import logging
from collections.abc import Callable

from django.contrib.auth import authenticate
from django.contrib.auth import logout as session_logout
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in
from django.db.models import QuerySet
from django.utils import timezone
from knox.models import AuthToken
from rest_framework import exceptions
from rest_framework.request import Request

from episode_metadata.auth import lockout

logger = logging.getLogger(__name__)

REVOKE_BATCH_SIZE = 1_000


def log_in(request: Request, *, username: str, password: str) -> tuple[str, AbstractBaseUser]:
    """Exchange credentials for a new API token; each client gets its own, revocable alone.

    Failures count towards the lockout every login door shares. Axes marks the DRF request,
    not Django's, so its middleware leaves this answer alone: 401 for the attempt that
    reaches the limit, 429 with Retry-After for those made while locked out.
    """
    locked_out = lockout.is_locked_out(request, username)
    user = authenticate(request, username=username, password=password)
    if user is None and locked_out:
        raise exceptions.Throttled(
            wait=lockout.cool_off_seconds(request),
            detail="Too many failed login attempts. Try again later.",
        )
    if user is None:
        raise exceptions.AuthenticationFailed("Invalid username or password.")
    _, token = AuthToken.objects.create(user=user)
    # Requests read only the token they present; a login clears the user's expired ones.
    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    logger.info("login succeeded for %r from %s", username, lockout.client_address(request))
    return token, user


def log_out(request) -> None:
    """Revoke the token the request came with, or end the browser session."""
    if isinstance(request.auth, AuthToken):
        request.auth.delete()
    else:
        session_logout(request._request)


def revoke_tokens(
    tokens: QuerySet[AuthToken],
    *,
    batch_size: int = REVOKE_BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Revoke `tokens` (see `selectors.tokens`) in batches: their clients must log in again.

    Only tokens that existed when it began: someone logging in meanwhile keeps the new one.
    `on_batch` hears the running total after each batch. Returns how many were revoked.
    """
    existing = tokens.filter(created__lte=timezone.now())
    total = 0
    while digests := list(existing.values_list("pk", flat=True)[:batch_size]):
        revoked, _ = AuthToken.objects.filter(pk__in=digests).delete()
        total += revoked
        if on_batch is not None:
            on_batch(total)
    logger.info("revoked %d API tokens", total)
    return total
