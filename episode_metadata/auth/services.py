import logging
from collections.abc import Callable

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth import logout as session_logout
from django.contrib.auth.signals import user_logged_in
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework import exceptions

from episode_metadata.auth import login_limiter

logger = logging.getLogger(__name__)
User = get_user_model()

REVOKE_BATCH_SIZE = 1_000


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def log_in(request: HttpRequest, *, username: str, password: str) -> tuple[str, User]:
    """Exchange credentials for a new API token; each client gets its own, revocable alone."""
    client = client_address(request)
    if login_limiter.is_blocked(client):
        logger.warning("login refused for %r from %s: too many failed attempts", username, client)
        raise exceptions.Throttled(
            wait=login_limiter.WINDOW_SECONDS,
            detail="Too many failed login attempts. Try again later.",
        )
    user = authenticate(request, username=username, password=password)
    if user is None:
        login_limiter.record_failure(client)
        logger.warning("login failed for %r from %s", username, client)
        raise exceptions.AuthenticationFailed("Invalid username or password.")
    login_limiter.reset(client)
    _, token = AuthToken.objects.create(user=user)
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    logger.info("login succeeded for %r from %s", username, client)
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
