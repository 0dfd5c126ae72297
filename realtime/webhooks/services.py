"""Writes to webhooks: endpoints as staff manage them, deliveries as the dispatcher makes
them from the activity log and the job worker sends them.

Deliveries are made from the committed log by a dispatcher thread (`dispatcher`), which
moves its cursor in the same transaction as the deliveries and their jobs: a crash loses
nothing and makes nothing twice. Each delivery is sent by an internal job (`realtime/tasks.py`),
so the job processor's retries with backoff, its dead state and its recovery of jobs whose
worker died apply; the receiver dedupes by `webhook-id`, which is the delivery's id.
"""

import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import Exists, F, Max, Subquery
from django.utils import timezone

from activity import cursors
from activity.models import ActivityLog
from jobs import registry
from jobs import services as job_services
from jobs.models import WAITING, Job, JobStatus
from realtime import events
from realtime.webhooks import addresses, client, signing
from realtime.webhooks.models import (
    DeliveryStatus,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
PURGE_BATCH_SIZE = 1000
JOB_TYPE = "webhook_delivery"
UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


class DeliveryFailed(Exception):
    """An attempt got no 2xx answer; the job processor retries it after a backoff."""


class DeliveryStateError(Exception):
    """The delivery cannot be sent again now (it is still being sent, say)."""


def create_endpoint(
    *,
    url: str,
    event_types: list[str],
    description: str = "",
    is_active: bool = True,
    user: User | AnonymousUser | None = None,
) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        url=url,
        event_types=sorted(set(event_types)),
        description=description,
        is_active=is_active,
        secret=signing.new_secret(),
        created_by=user if user is not None and user.is_authenticated else None,
    )


def update_endpoint(endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Turning an endpoint back on forgets the failures that disabled it."""
    if "event_types" in changes:
        changes["event_types"] = sorted(set(changes["event_types"]))
    if changes.get("is_active") and not endpoint.is_active:
        changes |= {"consecutive_dead": 0, "disabled_reason": ""}
    for name, value in changes.items():
        setattr(endpoint, name, value)
    endpoint.save()
    return endpoint


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def rotate_secret(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret signs every attempt from now on, retries of older deliveries included."""
    endpoint.secret = signing.new_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint


def dispatch_pending(*, limit: int = BATCH_SIZE) -> int:
    """Turn activity committed since the cursor into deliveries; returns the rows read.

    Safe in many processes at once (the cursor row is locked: `CursorTaken` while another
    process's pass holds it) and after a crash (the cursor moves with the deliveries it
    accounts for).
    """
    news = cursors.news_after(WebhookCursor)
    if news is False:
        return 0
    if news and _skipped_to_latest():
        return 0
    with transaction.atomic():
        if news is None:
            WebhookCursor.objects.get_or_create(pk=1)
        cursor = cursors.lock(WebhookCursor)
        endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
        if not endpoints:  # nothing to send: skip what was committed meanwhile
            latest = ActivityLog.objects.aggregate(latest=Max("id"))["latest"] or 0
            _move(cursor, max(latest, cursor.last_activity_id))
            return 0
        entries = list(
            ActivityLog.objects.filter(id__gt=cursor.last_activity_id).order_by("id")[:limit]
        )
        for entry in entries:
            _dispatch(entry, endpoints)
        if entries:
            _move(cursor, entries[-1].id)
    return len(entries)


def _skipped_to_latest() -> bool:
    """With no active endpoint there is nothing to send: the cursor moves past what was
    committed, in one statement, with no transaction. The pass's transaction and lock cost
    every server process seven round trips to the database on every commit, for nothing.

    False, with nothing moved, while an endpoint is active: PostgreSQL then rejects the row
    before it would wait for its lock, so a pass holding the cursor elsewhere keeps it, and
    this pass goes on to give way in `cursors.lock`. Passes in several processes may move
    it at once; it only moves forward."""
    latest = Subquery(ActivityLog.objects.order_by("-id").values("id")[:1])
    idle = WebhookCursor.objects.filter(
        ~Exists(WebhookEndpoint.objects.filter(is_active=True)),
        pk=1,
        last_activity_id__lt=latest,
    )
    return idle.update(last_activity_id=latest) > 0


def _move(cursor: WebhookCursor, last_activity_id: int) -> None:
    if last_activity_id != cursor.last_activity_id:
        cursor.last_activity_id = last_activity_id
        cursor.save(update_fields=["last_activity_id"])


def _dispatch(entry: ActivityLog, endpoints: list[WebhookEndpoint]) -> None:
    if _is_internal_job(entry):
        return  # a delivery's own job: sending its events would send forever
    event_type = events.event_name(entry)
    wanted = [
        endpoint
        for endpoint in endpoints
        if event_type in endpoint.event_types and entry.timestamp >= endpoint.created_at
    ]
    if not wanted:
        return
    data = events.event_data(entry)
    for endpoint in wanted:
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            activity_id=entry.id,
            event_type=event_type,
            payload=data,
            event_timestamp=entry.timestamp,
        )
        _enqueue(delivery)


def _is_internal_job(entry: ActivityLog) -> bool:
    if entry.resource_type != "job":
        return False
    declared = registry.get(entry.metadata.get("summary", {}).get("job_type", ""))
    return declared is not None and declared.internal


def _enqueue(delivery: WebhookDelivery) -> None:
    declared = registry.get(JOB_TYPE)
    assert declared is not None  # noqa: S101 - registered by realtime/tasks.py at start-up
    delivery.job = job_services.enqueue(
        declared, {"delivery_id": str(delivery.pk)}, max_attempts=settings.WEBHOOKS_MAX_ATTEMPTS
    )
    delivery.save(update_fields=["job"])


def body(delivery: WebhookDelivery) -> bytes:
    """The request body: the same bytes on every attempt of a delivery."""
    return json.dumps(
        {
            "type": delivery.event_type,
            "timestamp": delivery.event_timestamp.isoformat(),
            "data": delivery.payload,
        },
        separators=(",", ":"),
    ).encode()


def send(delivery_id: str, *, final: bool) -> None:
    """One attempt of a delivery; raises DeliveryFailed unless the endpoint answered 2xx.
    `final`: no attempt follows, so a failure leaves the delivery dead."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return  # purged meanwhile
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        _record(delivery, status=DeliveryStatus.DEAD, error="The endpoint is disabled.")
        return
    started = time.monotonic()
    code, error = _attempt(endpoint, delivery)
    elapsed = int((time.monotonic() - started) * 1000)
    if not error:
        _record(delivery, status=DeliveryStatus.DELIVERED, code=code, duration_ms=elapsed)
        WebhookEndpoint.objects.filter(pk=endpoint.pk, consecutive_dead__gt=0).update(
            consecutive_dead=0
        )
        return
    status = DeliveryStatus.DEAD if final else DeliveryStatus.RETRYING
    _record(delivery, status=status, code=code, duration_ms=elapsed, error=error)
    if final:
        _count_dead(endpoint)
    raise DeliveryFailed(error)


def _attempt(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """(response code or None, error or "") of one signed POST."""
    payload = body(delivery)
    headers = signing.headers(endpoint.secret, str(delivery.pk), timezone.now(), payload)
    try:
        answer = client.post(endpoint.url, payload, headers)
    except (addresses.RefusedAddress, client.SendError) as exc:
        return None, str(exc)
    if 200 <= answer.status < 300:
        return answer.status, ""
    return answer.status, f"HTTP {answer.status}: {answer.excerpt}".strip()


def _record(
    delivery: WebhookDelivery,
    *,
    status: str,
    code: int | None = None,
    duration_ms: int | None = None,
    error: str = "",
) -> None:
    now = timezone.now()
    sent = duration_ms is not None
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=F("attempts") + 1 if sent else F("attempts"),
        response_code=code,
        duration_ms=duration_ms,
        last_error=error,
        last_attempt_at=now if sent else F("last_attempt_at"),
        delivered_at=now if status == DeliveryStatus.DELIVERED else F("delivered_at"),
    )


def _count_dead(endpoint: WebhookEndpoint) -> None:
    """One more delivery gave up; enough in a row disable the endpoint, which tells staff
    (`realtime/webhooks/notification_rules.py`)."""
    limit = settings.WEBHOOKS_DISABLE_AFTER_DEAD
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.consecutive_dead += 1
        if locked.is_active and locked.consecutive_dead >= limit:
            locked.is_active = False
            locked.disabled_reason = f"{locked.consecutive_dead} deliveries in a row failed"
            logger.warning("webhook endpoint %s disabled: %s", locked.pk, locked.disabled_reason)
        locked.save(update_fields=["consecutive_dead", "is_active", "disabled_reason"])


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again, under the same `webhook-id`, with a fresh set of attempts."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.status in UNFINISHED and _being_sent(delivery):
            raise DeliveryStateError(
                f"The delivery is {delivery.status}; it is being sent already."
            )
        if not WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, is_active=True).exists():
            raise DeliveryStateError("The endpoint is disabled; turn it back on first.")
        delivery.status = DeliveryStatus.PENDING
        delivery.save(update_fields=["status"])
        _enqueue(delivery)
    return delivery


def _being_sent(delivery: WebhookDelivery) -> bool:
    """Whether its job may still make an attempt. One whose job ended without saying how
    (its worker died on the last attempt, or staff cancelled it) is not."""
    if delivery.job_id is None:
        return False
    alive = (*WAITING, JobStatus.RUNNING)
    return Job.objects.filter(pk=delivery.job_id, status__in=alive).exists()


def purge_old_deliveries(now: datetime | None = None) -> int:
    """Delete deliveries older than WEBHOOKS_RETENTION_DAYS, in batches so a backlog never
    holds one long lock; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOKS_RETENTION_DAYS)
    old = WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(status__in=UNFINISHED)
    deleted = 0
    while batch := list(old.values_list("pk", flat=True)[:PURGE_BATCH_SIZE]):
        deleted += WebhookDelivery.objects.filter(pk__in=batch).delete()[0]
    return deleted
