from datetime import datetime

from django.utils import timezone

from episode_metadata.common.idempotency.models import KEY_TTL, IdempotencyKey


def live_key(*, user_id: int, key: str, now: datetime | None = None) -> IdempotencyKey | None:
    """The user's answered request under `key`, unless it is past its 24 hours (expired keys
    wait for the purge, and count as unused meanwhile)."""
    cutoff = (now or timezone.now()) - KEY_TTL
    return IdempotencyKey.objects.filter(user_id=user_id, key=key, created_at__gt=cutoff).first()
