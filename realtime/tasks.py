"""Job types of the realtime app: sending webhooks."""

from django.conf import settings
from django.tasks import task
from rest_framework import serializers

from jobs import runtime
from jobs.registry import job_type
from realtime.webhooks import services


class WebhookDeliveryPayload(serializers.Serializer):
    delivery_id = serializers.UUIDField()


@job_type(
    services.JOB_TYPE,
    payload=WebhookDeliveryPayload,
    result=None,
    internal=True,
    max_attempts=settings.WEBHOOKS_MAX_ATTEMPTS,
    backoff_base=settings.WEBHOOKS_BACKOFF_BASE_SECONDS,
    backoff_cap=settings.WEBHOOKS_BACKOFF_CAP_SECONDS,
    timeout_seconds=60,
)
@task
def webhook_delivery(*, delivery_id: str) -> None:
    """Sends one webhook delivery to its endpoint; a failed attempt is retried with backoff
    until the attempts run out, which leaves the delivery dead."""
    services.send(delivery_id, final=runtime.attempt() >= runtime.max_attempts())
