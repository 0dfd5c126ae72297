"""The topics a client can follow, and which activity rows belong to each.

The stream knows no resource of its own: each app registers its topics at start-up. A
collection topic (`episodes`) follows every row of the resource types registered with it; a
single-resource topic kind (`episode`, followed as `episode:<uuid>`) follows the rows whose
registered field holds that id, optionally only those of one resource type.
"""

import uuid
from dataclasses import dataclass

from django.db.models import Q

from realtime import metrics

MAX_TOPICS = 100
# The activity row fields a single-resource topic can match its id against.
ROW_FIELDS = ("resource_id", "episode_id")


class InvalidTopic(ValueError):
    pass


@dataclass(frozen=True)
class ResourceTopic:
    """`<kind>:<id>`: the rows whose `field` is the id (and, when set, of `resource_type`)."""

    kind: str
    field: str
    resource_type: str | None

    def id_of(self, row: dict[str, object]) -> object:
        if self.resource_type is not None and row["resource_type"] != self.resource_type:
            return None
        return row[self.field]

    def rows(self, ident: str) -> Q:
        condition = Q(**{self.field: ident})
        if self.resource_type is not None:
            condition &= Q(resource_type=self.resource_type)
        return condition


_collections: dict[str, frozenset[str]] = {}
_resources: dict[str, ResourceTopic] = {}
# Every topic as a client names it, in the order registered, for the error naming them all.
_names: dict[str, None] = {}


def register_collection(name: str, resource_types: set[str]) -> None:
    """A topic carrying every row of these resource types."""
    _collections[name] = frozenset(resource_types)
    _names[name] = None
    metrics.count_family(name)


def register_resource(kind: str, *, field: str, resource_type: str | None = None) -> None:
    """Topics `<kind>:<uuid>`, each carrying the rows whose `field` holds that id; with a
    `resource_type`, only the rows of that type (the resource itself, not what hangs off it)."""
    if field not in ROW_FIELDS:
        raise ValueError(f"A topic matches rows by one of {', '.join(ROW_FIELDS)}, not {field}.")
    _resources[kind] = ResourceTopic(kind, field, resource_type)
    _names[f"{kind}:<id>"] = None
    metrics.count_family(kind)


def resource_types() -> set[str]:
    """Every resource type some collection carries."""
    return set().union(*_collections.values())


def validate(topic: object) -> str:
    if not isinstance(topic, str):
        raise InvalidTopic(f"Topic must be a string, got {type(topic).__name__}.")
    if topic in _collections:
        return topic
    kind, _, ident = topic.partition(":")
    if kind in _resources and ident:
        try:
            return f"{kind}:{uuid.UUID(ident)}"
        except ValueError:
            raise InvalidTopic(f"'{ident}' in '{topic}' is not a valid UUID.") from None
    *others, last = _names
    known = f"{', '.join(others)} or {last}" if others else last
    raise InvalidTopic(f"Unknown topic '{topic}'. Use {known}.")


def topics_of(resource_type: str, resource_id: str, episode_id: object) -> list[str]:
    """The topics an activity row is published on, most specific first: a topic of one
    resource's own rows before one that gathers what hangs off a resource too, collections
    last."""
    row = {"resource_type": resource_type, "resource_id": resource_id, "episode_id": episode_id}
    topics = []
    for resource in sorted(_resources.values(), key=lambda r: r.resource_type is None):
        ident = resource.id_of(row)
        if ident is not None:
            topics.append(f"{resource.kind}:{ident}")
    topics.extend(name for name, types in _collections.items() if resource_type in types)
    return topics


def rows_filter(topics: set[str]) -> Q:
    """A filter on ActivityLog selecting the rows published on any of these topics."""
    condition = Q(pk__in=[])
    for topic in topics:
        if topic in _collections:
            condition |= Q(resource_type__in=_collections[topic])
            continue
        kind, _, ident = topic.partition(":")
        if kind in _resources:
            condition |= _resources[kind].rows(ident)
    return condition
