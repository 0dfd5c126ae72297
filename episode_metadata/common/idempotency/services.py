import json
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from episode_metadata.common.idempotency.models import KEY_TTL, IdempotencyKey

PURGE_BATCH = 1000


def claim(
    *, user_id: int, key: str, fingerprint: str, now: datetime | None = None
) -> tuple[IdempotencyKey, bool]:
    """Take `key` for this request, inside the caller's transaction, which does the request's
    work and commits both together; or return the request that took it first, and False.

    The unique (user, key) constraint decides between concurrent requests: on PostgreSQL the
    second insert waits for the first transaction and fails once it commits (or succeeds if it
    rolled back); on SQLite the second transaction waits for the write lock (IMMEDIATE mode)
    and finds the first one's row. Either way the loser reads a committed, answered row."""
    now = now or timezone.now()
    IdempotencyKey.objects.filter(user_id=user_id, key=key, created_at__lte=now - KEY_TTL).delete()
    try:
        with transaction.atomic():
            taken = IdempotencyKey.objects.create(
                user_id=user_id, key=key, fingerprint=fingerprint, created_at=now
            )
    except IntegrityError:
        return IdempotencyKey.objects.get(user_id=user_id, key=key), False
    return taken, True


def record_response(
    taken: IdempotencyKey, *, status: int, data: Any, headers: dict[str, str]
) -> IdempotencyKey:
    """Keep the answer of the request holding `taken`, in its transaction: a request whose
    work rolls back (a 4xx raised by validation, any 5xx) keeps no key, so a retry runs anew."""
    taken.response_status = status
    taken.response_data = json.dumps(data, cls=JSONEncoder)
    taken.response_headers = headers
    taken.save(update_fields=["response_status", "response_data", "response_headers"])
    return taken


def purge_expired_keys(now: datetime | None = None) -> int:
    """Delete the keys past their 24 hours, a batch per statement, so that a large purge never
    holds many row locks (or SQLite's write lock) for long. Returns how many went."""
    cutoff = (now or timezone.now()) - KEY_TTL
    expired = IdempotencyKey.objects.filter(created_at__lte=cutoff).values_list("pk", flat=True)
    purged = 0
    while batch := list(expired[:PURGE_BATCH]):
        deleted, _ = IdempotencyKey.objects.filter(pk__in=batch).delete()
        purged += deleted
    return purged
