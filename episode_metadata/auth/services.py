import logging

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth import logout as session_logout
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest
from knox.models import AuthToken
from rest_framework import exceptions

from episode_metadata.auth import login_limiter

logger = logging.getLogger(__name__)
User = get_user_model()


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
