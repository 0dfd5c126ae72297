"""Making webhook deliveries on a thread of each server process (`manage.py serve`).

Like the notifier, it runs at once after its own process committed activity (API writes,
and the commits of the job worker inside the server), and otherwise every poll interval for
activity committed by other processes. Dispatchers in many processes share the work safely:
one at a time holds the cursor.
"""

from django.conf import settings

from activity.log_follower import LogFollower
from realtime.webhooks import services


class Dispatcher(LogFollower):
    thread_name = "webhooks"
    makes = "webhook deliveries"
    batch_size = services.BATCH_SIZE

    def follow(self) -> int:
        return services.dispatch_pending()


_dispatcher: Dispatcher | None = None


def start() -> None:
    """Start this process's dispatcher, unless it runs already."""
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = Dispatcher(poll_seconds=settings.JOBS_POLL_SECONDS)
        _dispatcher.start()


def stop() -> None:
    """Stop it, letting a pass under way finish."""
    global _dispatcher
    if _dispatcher is not None:
        _dispatcher.stop()
        _dispatcher = None


def nudge() -> None:
    """Activity this process did not commit itself, a job worker child's, has committed."""
    if _dispatcher is not None:
        _dispatcher.activity_arrived()
