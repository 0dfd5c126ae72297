"""Who is on the other end of a WebSocket: a single-use ticket (realtime/services.py) or an
API token in the query string, or the browser session (only from an allowed origin, since
browsers send cookies cross-site).

The session is read here, once, rather than by channels' session middleware, which wraps
every frame the socket sends afterwards; a fan-out to thousands of sockets pays for that."""

from collections.abc import Mapping
from importlib import import_module
from typing import Any, cast
from urllib.parse import parse_qs, urlparse

from channels.auth import get_user
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.http.cookie import parse_cookie
from django.http.request import validate_host
from rest_framework.exceptions import AuthenticationFailed

from episode_metadata.common.authentication import BearerTokenAuthentication
from realtime import access, services
from realtime.access import Access


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def origin_allowed(scope: Mapping[str, Any]) -> bool:
    origin = _header(scope, b"origin")
    if not origin:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    host = urlparse(origin).hostname
    if not host:
        return False
    return validate_host(host, settings.ALLOWED_HOSTS)


@database_sync_to_async
def _token_holder(token: str) -> tuple[User, Access] | None:
    """The token's user and their access, read on one trip to the database's thread."""
    user = _user_for_token(token)
    return None if user is None else (user, access.of(user))


@database_sync_to_async
def _ticket_holder(ticket: str) -> tuple[User, Access] | None:
    """The ticket's user and their access, spending the ticket, on one trip to the database's
    thread."""
    user = services.redeem_ticket(ticket)
    return None if user is None else (user, access.of(user))


def _user_for_token(token: str) -> User | None:
    if "\x00" in token:  # no token holds one, and PostgreSQL refuses it in a query
        return None
    try:
        user, _ = BearerTokenAuthentication().authenticate_credentials(token.encode())
    except (AuthenticationFailed, UnicodeError):
        return None
    return user


async def _user_for_session(scope: Mapping[str, Any]) -> User | None:
    session_key = parse_cookie(_header(scope, b"cookie") or "").get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    # get_user reads the session alone; the stubs ask for a whole scope.
    user = await get_user({"session": session})  # type: ignore[typeddict-item]
    # channels types it as any user model; the backends load the project's.
    return cast(User, user) if user.is_authenticated else None


async def authenticate(scope: Mapping[str, Any]) -> tuple[User, Access] | None:
    """The connecting user and what they may read (realtime.access), or None."""
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    if "ticket" in query:
        return await _ticket_holder(query["ticket"][0])
    if "token" in query:
        return await _token_holder(query["token"][0])
    if origin_allowed(scope):
        user = await _user_for_session(scope)
        if user is not None:
            return user, await database_sync_to_async(access.of)(user)
    return None
