"""Making notifications on a thread of each server and job worker process.

The notifier runs at once after its own process committed activity (in `manage.py serve`,
every API write; in a job worker, what its children report through `nudge`), and otherwise
every poll interval for activity committed by other processes. Notifiers on many machines
share the work safely: one at a time holds the cursor. It needs no job worker, so servers
run with `--no-worker` make notifications too.
"""

from django.conf import settings

from activity.log_follower import LogFollower
from activity.notifications import services


class Notifier(LogFollower):
    thread_name = "notifier"
    makes = "notifications"
    batch_size = services.BATCH_SIZE

    def follow(self) -> int:
        return services.deliver_pending()


_notifier: Notifier | None = None


def start() -> None:
    """Start this process's notifier, unless it runs already. From the main thread."""
    global _notifier
    if _notifier is None:
        _notifier = Notifier(poll_seconds=settings.JOBS_POLL_SECONDS)
        _notifier.start()


def stop() -> None:
    """Stop it, letting a delivery under way finish."""
    global _notifier
    if _notifier is not None:
        _notifier.stop()
        _notifier = None


def nudge() -> None:
    """Activity this process did not commit itself, a job worker child's, has committed."""
    if _notifier is not None:
        _notifier.activity_arrived()
