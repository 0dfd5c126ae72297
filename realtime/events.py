"""The one envelope every server message uses, and how an activity row becomes an event."""

import json
from datetime import UTC, datetime
from typing import Any

from activity import formatting
from activity.models import ActivityLog

PAST_TENSE = {
    "start": "started",
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "restore": "restored",
    "complete": "completed",
    "fail": "failed",
    "cancel": "cancelled",
    # A failed or cancelled job put back by hand is `job_retried`; the automatic retry of
    # a failed attempt keeps the bare `job_retry`.
    "requeue": "retried",
    "upload": "uploaded",
    "download": "downloaded",
    "approve": "approved",
    "publish": "published",
    "grant": "granted",
    "revoke": "revoked",
}


def envelope(
    event: str,
    data: dict[str, Any],
    *,
    topic: str | None = None,
    event_id: int | None = None,
    timestamp: str | None = None,
) -> str:
    return json.dumps(
        {
            "id": event_id,
            "event": event,
            "topic": topic,
            "data": data,
            "timestamp": timestamp or datetime.now(UTC).isoformat(),
        },
        separators=(",", ":"),
    )


def event_name(entry: ActivityLog) -> str:
    return f"{entry.resource_type}_{PAST_TENSE.get(entry.action, entry.action)}"


def event_data(entry: ActivityLog) -> dict[str, Any]:
    described = formatting.description(entry)
    data: dict[str, Any] = {
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        entry.resource_type: entry.metadata.get("summary", {}),
        "actor": {
            "id": entry.actor_id,
            "name": entry.actor_label or None,
        },
        "source": entry.source,
        "request_id": entry.request_id or None,
        "verb": described.verb,
        "description": described.text,
        "field_changes": described.fields,
    }
    if entry.action == "update":
        data["changed_fields"] = sorted(entry.changes)
        data["changes"] = entry.changes
    return data


def durable_frame(entry: ActivityLog, topic: str) -> str:
    return envelope(
        event_name(entry),
        event_data(entry),
        topic=topic,
        event_id=entry.id,
        timestamp=entry.timestamp.isoformat(),
    )
