"""The event stream's periodic housekeeping, run by the job workers (`jobs.periodic`)."""

from datetime import timedelta

from django.conf import settings

from jobs import periodic
from realtime import services
from realtime.presence import services as presence
from realtime.webhooks import services as webhooks


def register_tasks() -> None:
    # Each server sweeps expired viewings only while it has presence sockets; this catches
    # the rest (readers over REST, servers gone). Counts the departures it announced.
    periodic.register("stale_presence", every=timedelta(minutes=1), run=presence.expire)
    # Issuing a ticket deletes the expired ones too; this catches those left by the last issue.
    periodic.register(
        "expired_websocket_tickets", every=timedelta(hours=1), run=services.purge_expired_tickets
    )
    periodic.register("old_webhook_deliveries", every=timedelta(days=1), run=purge_old_deliveries)


def purge_old_deliveries() -> int | None:
    """Finished webhook deliveries past WEBHOOKS_RETENTION_DAYS; 0 keeps them all."""
    return webhooks.purge_old_deliveries() if settings.WEBHOOKS_RETENTION_DAYS > 0 else None
