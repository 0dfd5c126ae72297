from django.db.models import QuerySet

from realtime.webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("-created_at", "id")


def delivery_list(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """Newest first; the status filter and the order are both served by an index."""
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")
