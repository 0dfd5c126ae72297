"""The project package's periodic housekeeping, run by the job workers (`jobs.periodic`)."""

from datetime import timedelta

from django.utils import timezone

from episode_metadata.auth import selectors, services
from jobs import periodic


def register_tasks() -> None:
    periodic.register("expired_tokens", every=timedelta(days=1), run=revoke_expired_tokens)


def revoke_expired_tokens() -> int:
    """Expired tokens are refused already; this deletes them, as `rotate_tokens --expired`."""
    return services.revoke_tokens(selectors.tokens(expired_by=timezone.now()))
