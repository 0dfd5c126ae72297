"""Filters the list endpoints share.

Numbers and date-times take only values every database takes: a value beyond a column's
range is a 400 naming the filter, not an error from deep in a database driver. Statuses
come either repeated or comma-separated, and an ordering keeps pages stable. A list that
names no filter is not filtered at all.
"""

import datetime
import functools
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters import fields
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.widgets import BaseCSVWidget, DateRangeWidget, SuffixedMultiWidget

# No text the service stores may hold a NUL character (PostgreSQL refuses them).
NO_NUL = "^[^\\u0000]*$"
# Date-time filters take time-zone offsets short of 16 hours, as PostgreSQL does (see
# IsoDateTimeField); RFC 3339 would allow up to 23:59.
DATE_TIME_OFFSET = "([zZ]|[+-](0[0-9]|1[0-5]):[0-5][0-9])$"
MIN_BIGINT = -(2**63)
MAX_BIGINT = 2**63 - 1
# PostgreSQL takes time-zone offsets short of 16 hours; Python's run to 23:59.
MAX_UTC_OFFSET = datetime.timedelta(hours=16)


class IntegerFilter(django_filters.NumberFilter):
    """A whole number within 64 bits: a decimal field would truncate `1.5` to 1, and SQLite's
    driver cannot bind a number past 64 bits at all."""

    # django-filter takes any number field; its stub holds this one to DecimalField.
    field_class = forms.IntegerField  # type: ignore[assignment]

    def __init__(self, *args, min_value: int = MIN_BIGINT, **kwargs) -> None:
        super().__init__(*args, min_value=min_value, max_value=MAX_BIGINT, **kwargs)

    def get_max_validator(self) -> None:
        """The field's own max_value bounds it already."""
        return None


class IsoDateTimeField(fields.IsoDateTimeField):
    """An ISO 8601 date-time, in UTC once read: every database then compares the same instant,
    and one that has no UTC date (year 0 or 10,000) is refused here."""

    default_error_messages = {
        "offset": "The time-zone offset must be less than 16 hours either way.",
        "overflow": "The date-time is out of range once converted to UTC.",
    }

    def to_python(
        self, value: str | datetime.datetime | datetime.date | None
    ) -> datetime.datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        offset = moment.utcoffset()  # a naive value (USE_TZ off) has none to bound
        if offset is not None and abs(offset) >= MAX_UTC_OFFSET:
            raise ValidationError(self.error_messages["offset"], code="offset")
        try:
            return moment.astimezone(datetime.UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["overflow"], code="overflow") from None


class IsoDateTimeRangeField(fields.RangeField):
    widget = DateRangeWidget

    def __init__(self, *args, **kwargs) -> None:
        super().__init__((IsoDateTimeField(), IsoDateTimeField()), *args, **kwargs)


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = IsoDateTimeField


class IsoDateTimeFromToRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    # django-filter takes any range field; its stub holds this one to its own.
    field_class = IsoDateTimeRangeField  # type: ignore[assignment]


class CommaSeparatedMultipleChoiceField(forms.MultipleChoiceField):
    """Accepts `?status=draft&status=pending` and `?status=draft,pending` alike."""

    def to_python(self, value):
        values = super().to_python(value)
        return [part.strip() for item in values for part in item.split(",") if part.strip()]


class StatusFilter(django_filters.MultipleChoiceFilter):
    field_class = CommaSeparatedMultipleChoiceField


class RepeatedCSVWidget(BaseCSVWidget, forms.TextInput):
    """`?ordering=title&ordering=-air_date` reads as `?ordering=title,-air_date`: client
    generators repeat a list parameter, and django-filter's own widget keeps its last value."""

    def value_from_datadict(self, data, files, name: str):
        repeated = data.getlist(name) if hasattr(data, "getlist") else []
        if len(repeated) > 1:
            return ",".join(repeated).split(",")
        return super().value_from_datadict(data, files, name)


class StableOrderingFilter(django_filters.OrderingFilter):
    """For models with `created_at` and `id`, which break ties."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, widget=RepeatedCSVWidget, **kwargs)

    def filter(self, qs: QuerySet, value) -> QuerySet:
        qs = super().filter(qs, value)
        if value:
            # A unique tie-breaker keeps pages stable when many rows share a sort value.
            qs = qs.order_by(*qs.query.order_by, "-created_at", "id")
        return qs


@functools.cache
def query_names(filterset_class: type[django_filters.FilterSet]) -> frozenset[str]:
    """The query parameters a filter set reads: a range reads `<name>_after` and `_before`."""
    names: set[str] = set()
    for name, field in filterset_class().form.fields.items():
        widget = field.widget
        if isinstance(widget, SuffixedMultiWidget):
            names.update(widget.suffixed(name, suffix) for suffix in widget.suffixes)
        else:
            names.add(name)
    return frozenset(names)


def query_schema(filterset_class: type[django_filters.FilterSet]) -> dict[str, Any]:
    """A JSON Schema object of the query parameters a filter set reads, each typed as its
    form field reads it: for filters sent in a body (an export's) rather than in a URL."""
    properties: dict[str, dict[str, Any]] = {}
    for name, field in filterset_class().form.fields.items():
        widget = field.widget
        if isinstance(widget, SuffixedMultiWidget) and isinstance(field, forms.MultiValueField):
            for suffix, part in zip(widget.suffixes, field.fields, strict=True):
                properties[widget.suffixed(name, suffix)] = _value_schema(part)
        else:
            properties[name] = _value_schema(field)
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _value_schema(field: forms.Field) -> dict[str, Any]:
    if isinstance(field, fields.BaseCSVField | forms.MultipleChoiceField):
        # Repeated in a query string, so a list here.
        return {"type": "array", "items": _choices({"type": "string"}, field)}
    if isinstance(field, forms.IntegerField):
        bounds = {"minimum": field.min_value, "maximum": field.max_value}
        return {"type": "integer", **{k: v for k, v in bounds.items() if v is not None}}
    if isinstance(field, forms.DateTimeField):
        return {"type": "string", "format": "date-time", "pattern": DATE_TIME_OFFSET}
    if isinstance(field, forms.DateField):
        return {"type": "string", "format": "date"}
    max_length = getattr(field, "max_length", None)
    length = {"maxLength": max_length} if max_length else {}
    return _choices({"type": "string", "pattern": NO_NUL, **length}, field)


def _choices(schema: dict[str, Any], field: forms.Field) -> dict[str, Any]:
    choices = sorted(value for value, _ in getattr(field, "choices", ()) if value != "")
    return {"type": "string", "enum": choices} if choices else schema


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, for the requests that name one of the filters.

    Building and validating a filter set's form costs about 2 ms a list whether or not it
    filters anything, and most lists (a dashboard's, a client paging through) filter nothing.
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or query_names(filterset_class).isdisjoint(request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)
