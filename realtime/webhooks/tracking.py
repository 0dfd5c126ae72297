"""How endpoints appear in the activity log: every change staff or the service make, read by
staff alone; the secret never."""

from activity import formatting, visibility
from activity.tracking import track
from realtime.webhooks.models import WebhookEndpoint
from realtime.webhooks.notification_rules import READ_ENDPOINTS


def track_endpoints() -> None:
    track(
        WebhookEndpoint,
        resource_type="webhook",
        exclude=frozenset({"secret", "consecutive_dead", "updated_at"}),
        summary_fields=("id", "url", "event_types", "is_active", "disabled_reason"),
    )
    formatting.register("webhook", WebhookEndpoint)
    visibility.register("webhook", permission=READ_ENDPOINTS)
