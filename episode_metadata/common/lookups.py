"""Looking up a resource by its UUID in the URL, as every detail route of the API does."""

import uuid
from typing import Any, Protocol

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request

_MAX_ID_DIGITS = len(str(2**63 - 1))


class _DetailView[M: Model](Protocol):
    """What of DRF's GenericAPIView the lookup uses: the view gives the model it returns."""

    @property
    def lookup_field(self) -> str: ...

    @property
    def lookup_url_kwarg(self) -> str | None: ...

    @property
    def kwargs(self) -> Any: ...

    @property
    def request(self) -> Request: ...

    def get_queryset(self) -> QuerySet[M]: ...

    def check_object_permissions(self, request: Request, obj: Any) -> None: ...


class UUIDLookupMixin:
    """A malformed id is the client's mistake (400 naming it), not a missing resource."""

    def get_object[M: Model](self: _DetailView[M]) -> M:
        name = self.lookup_url_kwarg or "id"
        raw_id = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        try:
            uuid.UUID(raw_id)
        except ValueError:
            raise ValidationError({name: [f"'{raw_id}' is not a valid UUID."]}) from None
        found = get_object_or_404(self.get_queryset(), pk=raw_id)
        self.check_object_permissions(self.request, found)
        return found


def integer_id(raw_id: str, noun: str) -> int:
    """A row's integer id from the URL: anything but digits is the client's mistake (400
    naming it); more digits than a 64-bit id has name no row, and are not even read (Python
    refuses to read 5,000 of them)."""
    if not (raw_id.isascii() and raw_id.isdigit()):
        raise ValidationError({"id": [f"'{raw_id}' is not a valid {noun} id."]})
    if len(raw_id) > _MAX_ID_DIGITS:
        raise NotFound(f"No {noun} has this id.")
    return int(raw_id)


def parent_or_404[M: Model](queryset: QuerySet[M], raw_id: str) -> M:
    """The resource a nested route hangs off (an episode's files): a malformed id names
    nothing, so it is a 404 like a missing one."""
    try:
        uuid.UUID(raw_id)
    except ValueError:
        raise NotFound(f"No {queryset.model._meta.verbose_name} has the id '{raw_id}'.") from None
    return get_object_or_404(queryset, pk=raw_id)
