"""WebSocket tickets: short-lived, single-use passes onto `/ws/events/`.

A client that cannot send the session cookie (a script, a native app, a page served
elsewhere) asks for a ticket with its API credentials and puts the ticket, not its token, in
the socket's URL. A URL ends up in logs; a ticket seen there is spent or expired.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from realtime.models import WebSocketTicket

# Longer than any ticket this service hands out: anything longer is refused unread.
MAX_TICKET_LENGTH = 128


def _digest(ticket: str) -> str:
    # A random 256-bit ticket needs no salt or slow hash: nothing can be guessed from its digest.
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue_ticket(user: User) -> str:
    """A new ticket for `user`; only its digest is stored. Expired tickets are deleted on the
    way, so they never pile up even with no scheduled purge."""
    now = timezone.now()
    purge_expired_tickets(now)
    ticket = secrets.token_urlsafe(32)
    WebSocketTicket.objects.create(
        digest=_digest(ticket),
        user_id=user.pk,
        expires_at=now + timedelta(seconds=settings.WEBSOCKET_TICKET_SECONDS),
    )
    return ticket


def redeem_ticket(ticket: str) -> User | None:
    """The active user the ticket was issued to, spending it; None if it is unknown, expired
    or already spent.

    The DELETE decides: of two sockets redeeming one ticket at once, in any processes, the
    database deletes the row for one of them only, and the other deletes nothing."""
    if not ticket or len(ticket) > MAX_TICKET_LENGTH:
        return None
    now = timezone.now()
    found = (
        WebSocketTicket.objects.select_related("user")
        .filter(digest=_digest(ticket), expires_at__gt=now)
        .first()
    )
    if found is None:
        return None
    spent, _ = WebSocketTicket.objects.filter(pk=found.pk, expires_at__gt=now).delete()
    if not spent or not found.user.is_active:
        return None
    return found.user


def purge_expired_tickets(now: datetime | None = None) -> int:
    """Delete the tickets that can no longer be redeemed; returns how many. One DELETE over
    the expiry index."""
    deleted, _ = WebSocketTicket.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
