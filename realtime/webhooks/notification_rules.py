"""Who hears about webhooks: staff, when the service disables an endpoint for failing."""

from django.contrib.auth import get_user_model

from activity.models import Action, ActivityLog, NotificationType, Priority
from activity.notifications.rules import Planned, links_to, register

READ_ENDPOINTS = "realtime.view_webhookendpoint"


def _endpoint_disabled(entry: ActivityLog) -> Planned | None:
    before, after = entry.changes.get("disabled_reason", ["", ""])
    if not after or before:
        return None  # a change by hand, or not the disabling
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    return Planned(
        type=NotificationType.WEBHOOK_DISABLED,
        title=f"Webhook disabled: {entry.resource_repr}"[:200],
        message=f"Its deliveries kept failing ({after}). Fix the receiver, then turn the "
        "endpoint back on and redeliver what it missed.",
        recipients=set(staff.values_list("pk", flat=True)),
        priority=Priority.HIGH,
        data=links_to(entry),
    )


def register_rules() -> None:
    register("webhook", Action.UPDATE, _endpoint_disabled, readable_with=READ_ENDPOINTS)
