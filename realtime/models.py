from django.conf import settings
from django.db import models
from django.db.models import F, Q

# The webhooks' models, kept with their feature (realtime/webhooks/).
from realtime.webhooks.models import (  # noqa: F401
    DeliveryStatus,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)


class Presence(models.Model):
    """One viewing of an episode: a socket subscribed to it, or a recent read over REST.

    A row lives until its connection ends or until `expires_at`, whichever comes first, so a
    viewer whose process crashed still goes away. A user is a viewer while any of their
    rows for the episode is unexpired.
    """

    episode = models.ForeignKey(
        "episodes.Episode",
        on_delete=models.CASCADE,
        related_name="presences",
        db_index=False,  # presence_viewing_idx leads with it
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="presences",
        # Every heartbeat rewrites the indexed rows; deleting a user scans this small table.
        db_index=False,
    )
    # A socket's random id, or "http" for the user's reads of the episode over REST.
    connection = models.CharField(max_length=32)
    since = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Also serves a heartbeat's UPDATE and a disconnect's DELETE by connection.
            models.UniqueConstraint(
                fields=["connection", "episode", "user"], name="presence_connection_unique"
            ),
            models.CheckConstraint(condition=~Q(connection=""), name="presence_connection_set"),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("since")), name="presence_expires_after_since"
            ),
        ]
        indexes = [
            # An episode's viewers, and one user's rows of it when they join or leave.
            models.Index(fields=["episode", "user", "expires_at"], name="presence_viewing_idx"),
            # The sweep of expired rows.
            models.Index(fields=["expires_at"], name="presence_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} on {self.episode_id} until {self.expires_at:%H:%M:%S}"


class WebSocketTicket(models.Model):
    """A one-time pass onto the event stream, for a client that cannot send the session
    cookie and should not put its API token in a URL, where proxies and servers log it.

    Only the ticket's SHA-256 is kept: the database never holds a usable ticket. Redeeming
    deletes the row, so of two sockets presenting one ticket, whichever process or machine
    they reach, exactly one gets in.
    """

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="websocket_tickets",
        # Tickets live seconds: deleting a user scans a handful of rows.
        db_index=False,
    )
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(digest=""), name="websocket_ticket_digest_set"),
        ]
        indexes = [
            # The purge of expired tickets.
            models.Index(fields=["expires_at"], name="websocket_ticket_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"ticket of user {self.user_id} until {self.expires_at:%H:%M:%S}"
