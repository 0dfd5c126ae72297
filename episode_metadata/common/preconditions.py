"""Optimistic concurrency over HTTP: ETags, If-Match (RFC 9110 section 13.1.1) and the 412 and
428 answers, shared by every API resource that carries a version.

A resource's ETag is its version number, quoted: a strong validator that changes with every
write. A client sends it back in `If-Match`; a write whose tags no longer match the stored
version is refused with 412 and the current version, so two people editing the same thing
cannot silently overwrite each other. The services make the check part of the write
(`check_before_write`, `check_written`), so a race between two requests has one winner.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

HEADER = "If-Match"
# Marks an operation of the OpenAPI schema as one on a versioned resource, with the name of
# its version field; `episode_metadata.openapi` adds the ETag, If-Match, 412 and 428 there.
SCHEMA_EXTENSION = "x-versioned"
# One element of the list and the comma after it: an entity tag, weak (`W/"..."`) or strong
# (`"..."`), whose quotes may hold commas, or whatever else stands up to the next comma.
_ELEMENT = re.compile(r'[ \t]*((?:W/)?"[^"]*"|[^,]*?)[ \t]*(?:,|$)')
_STRONG = re.compile(r'"[^"]*"')
_WRITES = frozenset({"PUT", "PATCH", "DELETE", "POST"})


def etag(version: int) -> str:
    return f'"{version}"'


def versioned(field: str = "version") -> dict[str, Any]:
    """`extend_schema` arguments for an operation on a resource versioned by `field`."""
    return {"extensions": {SCHEMA_EXTENSION: field}}


@dataclass(frozen=True)
class IfMatch:
    """What a request's `If-Match` accepts: any current version (`*`) or the strong tags it
    lists. Weak tags are kept out: If-Match compares strongly, so they never match."""

    any: bool
    tags: frozenset[str]

    def matches(self, version: int) -> bool:
        return self.any or etag(version) in self.tags


def parse(value: str) -> IfMatch:
    """The header's value as RFC 9110 writes it: `*` alone, or a list of entity tags. What
    is not a strong entity tag can match no version, so a malformed value fails the
    condition (412, with the current version) rather than being ignored."""
    if value.strip(" \t") == "*":
        return IfMatch(any=True, tags=frozenset())
    elements = (found.group(1) for found in _ELEMENT.finditer(value))
    return IfMatch(any=False, tags=frozenset(e for e in elements if _STRONG.fullmatch(e)))


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"

    def __init__(self, current: int, *, field: str = "version") -> None:
        message = (
            f"The resource changed: its {field} is now {current}. Read it again, then "
            "repeat the change if it still applies."
        )
        super().__init__(message)
        self.current = current
        self.field = field

    def response(self) -> Response:
        """The body names the current version, and the ETag header carries it."""
        body = {"detail": str(self.detail), self.field: self.current}
        return Response(body, status=self.status_code, headers={"ETag": etag(self.current)})


class PreconditionRequired(APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_code = "precondition_required"
    default_detail = (
        "This change must be conditional: send If-Match with the ETag of the version it is "
        "based on (or * to overwrite whatever is stored)."
    )


def read(request: Request) -> IfMatch | None:
    """A write's precondition; when the deployment requires one (`REQUIRE_IF_MATCH`),
    a write without it is refused with 428."""
    value = request.headers.get(HEADER)
    if value is not None:
        return parse(value)
    if settings.REQUIRE_IF_MATCH:
        raise PreconditionRequired
    return None


def check_before_write(if_match: IfMatch | None, current: int, *, field: str = "version") -> None:
    """Refuse a write based on a version other than `current`, before any statement runs."""
    if if_match is not None and not if_match.matches(current):
        raise PreconditionFailed(current, field=field)


def check_written(if_match: IfMatch | None, written: int, *, field: str = "version") -> None:
    """After an UPDATE that incremented the version, refuse it (by raising inside the
    write's transaction, which rolls it back) unless the row held a version the request
    accepts. The UPDATE held the row's lock: nothing could have come between."""
    if if_match is not None and not if_match.matches(written - 1):
        raise PreconditionFailed(written - 1, field=field)


class ConditionalViewMixin:
    """For a DRF view: reads `If-Match` for the writes named in `conditional_actions` (as
    `self.if_match`, for the services), and puts the ETag on every successful answer that
    carries the resource's `version_field`."""

    version_field = "version"
    conditional_actions: frozenset[str] = frozenset({"update", "partial_update", "destroy"})
    if_match: IfMatch | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.method in _WRITES and getattr(self, "action", None) in self.conditional_actions:
            self.if_match = read(request)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        data = getattr(response, "data", None)
        if status.is_success(response.status_code) and isinstance(data, dict):
            version = data.get(self.version_field)
            if isinstance(version, int):
                response["ETag"] = etag(version)
        return response
