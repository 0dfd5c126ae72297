"""Freeing what a request built as soon as it is answered, instead of at the next run of the
cyclic garbage collector.

Django and DRF link a request's objects in reference cycles: the view and its DRF request
refer to each other, a serializer to its fields and each field back to it, the request to
the closures of its lazy user and message storage. Everything those cycles reach (the page of
model instances, the querysets, the rendered context) then waits for the cyclic collector:
several hundred objects a request, which it frees tens of milliseconds at a time while every
request of the process waits. Nothing reads these objects once the response is rendered and
closed, so emptying them breaks the cycles and reference counting frees the rest at once
(`make bench` prints how long the collector held each server under the mixed load).
"""

from typing import Any

from django.http import HttpRequest, HttpResponseBase
from rest_framework.fields import Field


def break_cycles(request: HttpRequest, response: HttpResponseBase) -> None:
    """Empty the request, and for a DRF response its view, DRF request, serializers and
    their fields. Only for a response that is rendered and closed: its content and headers
    stay."""
    context: dict[str, Any] = getattr(response, "renderer_context", None) or {}
    held = [context.get("view"), context.get("request"), *_serializers(response), request]
    for obj in held:
        if obj is not None:
            obj.__dict__.clear()
    if context:
        # The DRF response's attribute, which the stubs do not give HttpResponseBase.
        response.renderer_context = None  # type: ignore[attr-defined]


def _serializers(response: HttpResponseBase) -> list[Any]:
    """The serializers behind the response's data, with every field they built: DRF keeps the
    serializer on the data it returns (`.serializer`), at the top or, in a page, under
    `results`. Each field, nested serializer and list's child is bound to its parent, and
    the parent holds it: a cycle each."""
    data = getattr(response, "data", None)
    values = [data, *(data.values() if isinstance(data, dict) else ())]
    found: list[Any] = []
    for value in values:
        serializer = getattr(value, "serializer", None)
        if serializer is not None:
            found += _tree(serializer)
    return found


def _tree(field: Any) -> list[Any]:
    """`field` and the fields it made for itself (never its class's declarations): a
    serializer's, a list's or a dict's child, the shape of a `ShapedJSONField`."""
    held = vars(field)
    parts = list(held["fields"].values()) if "fields" in held else []
    parts += [held.get(name) for name in ("child", "child_relation", "shape")]
    built = [part for part in parts if isinstance(part, Field)]
    return [field, *(each for part in built for each in _tree(part))]
