"""The topics a client can follow, which activity rows belong to each, and who may see them.

The stream knows no resource of its own: each app registers its topics at start-up. A
collection topic (`episodes`) follows every row of the resource types registered with it; a
single-resource topic kind (`episode`, followed as `episode:<uuid>`) follows the rows whose
registered field holds that id, optionally only those of one resource type.

Who may read is registered alongside, in two parts. Each topic has a gate, asked when a socket
subscribes and again when its user's roles change: a subscription the gate refuses is never
made (or is dropped). Each resource type may have a row rule, asked for every event of that
type and every socket it would reach, live or replayed: an event of a resource the user may
not see is never sent, whatever topic carries it. Rules decide from what the event carries
(`About`) and the socket's `Access` snapshot alone, so the fan-out never waits on a query.
"""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db.models import Q

from realtime import access, metrics
from realtime.access import Access

MAX_TOPICS = 100
# The activity row fields a single-resource topic can match its id against.
ROW_FIELDS = ("resource_id", "episode_id")


class InvalidTopic(ValueError):
    pass


class About(NamedTuple):
    """What an event is about, as much as deciding who may see it takes."""

    resource_type: str
    episode_id: object
    # The resource as the event describes it (the activity row's summary).
    summary: Mapping[str, Any]

    @classmethod
    def row(cls, entry) -> "About":
        return cls(entry.resource_type, entry.episode_id, entry.metadata.get("summary", {}))


# Why `access` may not follow a topic (`ident` is the id of a single-resource topic, "" for a
# collection), or None when it may. A gate may query the database: it runs off the event loop.
Gate = Callable[[Access, str], str | None]
# Whether `access` may see an event about this.
RowRule = Callable[[Access, About], bool]


def requires(permission: str) -> Gate:
    """A gate open to the holders of one permission."""
    access.watch(permission)

    def gate(who: Access, ident: str) -> str | None:
        return None if who.has(permission) else f"you do not have the permission {permission}"

    return gate


def _anyone(who: Access, about: About) -> bool:
    return True


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
# By collection name or single-resource kind.
_gates: dict[str, Gate] = {}
_row_rules: dict[str, RowRule] = {}


def register_collection(name: str, resource_types: set[str], *, readable: Gate) -> None:
    """A topic carrying every row of these resource types, followed by whom `readable` lets."""
    _collections[name] = frozenset(resource_types)
    _names[name] = None
    _gates[name] = readable
    metrics.count_family(name)


def register_resource(
    kind: str, *, field: str, readable: Gate, resource_type: str | None = None
) -> None:
    """Topics `<kind>:<uuid>`, each carrying the rows whose `field` holds that id; with a
    `resource_type`, only the rows of that type (the resource itself, not what hangs off it).
    `readable` says who may follow each."""
    if field not in ROW_FIELDS:
        raise ValueError(f"A topic matches rows by one of {', '.join(ROW_FIELDS)}, not {field}.")
    _resources[kind] = ResourceTopic(kind, field, resource_type)
    _names[f"{kind}:<id>"] = None
    _gates[kind] = readable
    metrics.count_family(kind)


def register_rows(
    resource_type: str, *, permission: str | None = None, visible: RowRule | None = None
) -> None:
    """Who may see events of this resource type: the holders of `permission`, or whom
    `visible` lets. A type with no rule is seen by whoever follows a topic carrying it."""
    if permission is not None and visible is None:
        access.watch(permission)
        _row_rules[resource_type] = lambda who, about: who.has(permission)
    elif visible is not None and permission is None:
        _row_rules[resource_type] = visible
    else:
        raise ValueError("Give a row rule a permission or a `visible` function, not both.")


def row_rule(resource_type: str) -> RowRule:
    """The rule for events of this type, looked up once per event and asked per socket."""
    return _row_rules.get(resource_type, _anyone)


def visible(who: Access, about: About) -> bool:
    return row_rule(about.resource_type)(who, about)


def refusal(who: Access, topic: str) -> str | None:
    """Why `who` may not follow this (valid) topic ("you do not have the permission ..."), or
    None if they may. May query the database."""
    kind, _, ident = topic.partition(":")
    return _gates[topic](who, "") if topic in _collections else _gates[kind](who, ident)


def refusals(who: Access, topics: set[str]) -> dict[str, str]:
    """The topics among these that `who` may not follow, in order, each with why."""
    found = {topic: refusal(who, topic) for topic in sorted(topics)}
    return {topic: reason for topic, reason in found.items() if reason is not None}


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
