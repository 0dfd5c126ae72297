"""The topics a dashboard can follow, and which activity rows belong to each.

`episodes` and `jobs` follow every resource of their kind; `episode:<uuid>` follows one
episode and everything hanging off it; `job:<uuid>` follows one job.
"""

import uuid

from django.db.models import Q

# Resource types each collection topic carries; apps add theirs as they gain live events.
COLLECTIONS: dict[str, set[str]] = {
    "episodes": {"episode", "file", "composition"},
    "jobs": {"job", "job_processor"},
}
MAX_TOPICS = 100


class InvalidTopic(ValueError):
    pass


def validate(topic: object) -> str:
    if not isinstance(topic, str):
        raise InvalidTopic(f"Topic must be a string, got {type(topic).__name__}.")
    if topic in COLLECTIONS:
        return topic
    kind, _, ident = topic.partition(":")
    if kind in ("episode", "job") and ident:
        try:
            return f"{kind}:{uuid.UUID(ident)}"
        except ValueError:
            raise InvalidTopic(f"'{ident}' in '{topic}' is not a valid UUID.") from None
    raise InvalidTopic(f"Unknown topic '{topic}'. Use episodes, episode:<id>, jobs or job:<id>.")


def topics_of(resource_type: str, resource_id: str, episode_id: object) -> list[str]:
    """The topics an activity row is published on, most specific first."""
    topics = []
    if resource_type == "job":
        topics.append(f"job:{resource_id}")
    if episode_id is not None:
        topics.append(f"episode:{episode_id}")
    topics.extend(name for name, types in COLLECTIONS.items() if resource_type in types)
    return topics


def rows_filter(topics: set[str]) -> Q:
    """A filter on ActivityLog selecting the rows published on any of these topics."""
    condition = Q(pk__in=[])
    for topic in topics:
        if topic in COLLECTIONS:
            condition |= Q(resource_type__in=COLLECTIONS[topic])
        elif topic.startswith("episode:"):
            condition |= Q(episode_id=topic.partition(":")[2])
        elif topic.startswith("job:"):
            condition |= Q(resource_type="job", resource_id=topic.partition(":")[2])
    return condition
