"""The events an endpoint may ask for: the durable events of the live stream, as its AsyncAPI
document (realtime/asyncapi.yaml) names them, so the two can never disagree."""

from functools import cache

import yaml

from realtime.asyncapi import DOCUMENT

DURABLE = "#/components/schemas/DurableEvent"


@cache
def event_types() -> tuple[str, ...]:
    """Every event name an activity row can become, sorted."""
    # libyaml's safe loader (PyYAML's wheels carry it): every process reads the document as it
    # starts, and the pure-Python loader took a fifth of a second over it, a tenth of a start.
    document = yaml.load(DOCUMENT.read_text(), Loader=yaml.CSafeLoader)
    messages = document["components"]["messages"]
    return tuple(
        sorted(
            message["name"]
            for message in messages.values()
            if any(part.get("$ref") == DURABLE for part in message["payload"].get("allOf", []))
        )
    )
