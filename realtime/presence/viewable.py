"""What presence is about, registered by the app that owns it: the kind of single-resource
topic whose subscribers view the resource, and which of the resources named exist (a socket
may follow a topic of one that never did, and nobody can view that). A presence row points
at such a resource (realtime.models.Presence)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class _Viewable:
    topic_kind: str
    existing: Callable[[set[str]], set[str]]


_viewable: _Viewable | None = None


def register(*, topic_kind: str, existing: Callable[[set[str]], set[str]]) -> None:
    """`existing` takes ids and returns (as strings) those of resources that exist."""
    global _viewable
    _viewable = _Viewable(topic_kind, existing)


def ids_in(topics: Iterable[str]) -> set[str]:
    """The ids of the viewable resources among these topics; none while nothing is registered."""
    if _viewable is None:
        return set()
    prefix = f"{_viewable.topic_kind}:"
    return {topic.removeprefix(prefix) for topic in topics if topic.startswith(prefix)}


def topic_of(resource_id: object) -> str:
    """The topic on which the resource's viewers hear of each other."""
    return f"{_registered().topic_kind}:{resource_id}"


def existing(resource_ids: set[str]) -> set[str]:
    return _registered().existing(resource_ids)


def _registered() -> _Viewable:
    if _viewable is None:
        raise LookupError("No app registered what presence is about.")
    return _viewable
