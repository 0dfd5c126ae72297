"""Serializer fields that read and write JSON as the OpenAPI schema describes it.

DRF is lenient where the schema is not: it turns the number 0 into the string "0", an
integer into a UUID, the string "1" into the id 1, and an empty string into null for a
reference. A client that sends either has a bug the schema
says is one; it hears so (400) instead of having its value quietly changed.
"""

from typing import Any

import django_filters
from django.db import models
from rest_framework import serializers
from rest_framework.fields import empty

from episode_metadata.common.filters import query_schema
from episode_metadata.common.model_serializer import ModelSerializer


class StrictCharField(serializers.CharField):
    """Text from a JSON string only."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID from a JSON string only: DRF would also read an integer as one."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false only: DRF would also read 0, 1, "yes" and "off" as one."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id of the type the schema gives (a string for a UUID, else an integer), or null
    where null is allowed; an empty string is neither."""

    def run_validation(self, data=empty):
        return serializers.Field.run_validation(self, data)

    def to_internal_value(self, data):
        if self.pk_field is None and (isinstance(data, bool) or not isinstance(data, int)):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictModelSerializer(ModelSerializer):
    """A model serializer whose text columns and references take the strict fields above."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }
    serializer_related_field = StrictPrimaryKeyRelatedField


class ShapedJSONField(serializers.JSONField):
    """A read-only JSON column, with the shape the service stores in it (a serializer or a
    field) as its OpenAPI schema: the column itself takes any JSON, which would leave
    clients with an untyped value."""

    def __init__(self, shape: serializers.Field | type[serializers.Field], **kwargs: Any) -> None:
        self.shape = shape
        super().__init__(read_only=True, **kwargs)


class ListFiltersField(serializers.DictField):
    """A list endpoint's filters in a JSON body, by their query parameter names. Its schema
    names each one, typed as the list reads it, so that a client builds them as it would
    build the query."""

    def __init__(self, filterset_class: type[django_filters.FilterSet], **kwargs: Any) -> None:
        self.filterset_class = filterset_class
        super().__init__(**kwargs)

    def json_schema(self) -> dict[str, Any]:
        return query_schema(self.filterset_class)
