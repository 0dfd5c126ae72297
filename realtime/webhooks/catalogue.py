"""The events an endpoint may ask for: the durable events of the live stream, as its AsyncAPI
document (realtime/asyncapi.yaml) names them, so the two can never disagree."""

from functools import cache

import yaml

from realtime.asyncapi import DOCUMENT

DURABLE = "#/components/schemas/DurableEvent"


@cache
def event_types() -> tuple[str, ...]:
    """Every event name an activity row can become, sorted."""
    messages = yaml.safe_load(DOCUMENT.read_text())["components"]["messages"]
    return tuple(
        sorted(
            message["name"]
            for message in messages.values()
            if any(part.get("$ref") == DURABLE for part in message["payload"].get("allOf", []))
        )
    )
