"""The event stream's periodic housekeeping, run by the job workers (`jobs.periodic`)."""

from datetime import timedelta

from jobs import periodic
from realtime import services
from realtime.presence import services as presence


def register_tasks() -> None:
    # Each server sweeps expired viewings only while it has presence sockets; this catches
    # the rest (readers over REST, servers gone). Counts the departures it announced.
    periodic.register("stale_presence", every=timedelta(minutes=1), run=presence.expire)
    # Issuing a ticket deletes the expired ones too; this catches those left by the last issue.
    periodic.register(
        "expired_websocket_tickets", every=timedelta(hours=1), run=services.purge_expired_tickets
    )
