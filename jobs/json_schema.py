"""Describing a job type's payload as JSON Schema, for `GET /api/v1/job-types/`.

drf-spectacular builds such schemas only through private methods that need a view and a
schema registry; the mapping from DRF fields is short enough to own.
"""

from decimal import Decimal
from typing import Any, cast

from rest_framework import serializers

from episode_metadata.common.serializer_fields import ListFiltersField

# Fields whose input is a string in a JSON Schema format.
_FORMATS = [
    (serializers.DateTimeField, "date-time"),
    (serializers.DateField, "date"),
    (serializers.TimeField, "time"),
    (serializers.DurationField, "duration"),
    (serializers.UUIDField, "uuid"),
]


def field_schema(field: serializers.Field) -> dict[str, Any]:
    """A JSON Schema for what a serializer field accepts as input."""
    schema = _type_schema(field)
    if field.allow_null and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    if field.help_text:
        schema["description"] = str(field.help_text)
    default = field.default
    if default is not serializers.empty and not callable(default):
        schema["default"] = field.to_representation(default)
    return schema


def _type_schema(field: serializers.Field) -> dict[str, Any]:
    if isinstance(field, ListFiltersField):
        return field.json_schema()
    if isinstance(field, serializers.Serializer):
        writable = {name: f for name, f in field.fields.items() if not f.read_only}
        schema = {
            "type": "object",
            "properties": {name: field_schema(f) for name, f in writable.items()},
        }
        required = [name for name, f in writable.items() if f.required]
        return {**schema, "required": required} if required else schema
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        # A ListSerializer has a child and length bounds as a ListField does; its stubs say
        # the child may be missing and have no bounds.
        listed = cast(serializers.ListField, field)
        return _bounded(
            {"type": "array", "items": field_schema(listed.child)},
            minItems=listed.min_length or (None if listed.allow_empty else 1),
            maxItems=listed.max_length,
        )
    if isinstance(field, serializers.DictField):
        return {"type": "object", "additionalProperties": field_schema(field.child)}
    if isinstance(field, serializers.MultipleChoiceField):
        return {"type": "array", "items": {"enum": list(field.choices)}, "uniqueItems": True}
    if isinstance(field, serializers.ChoiceField):
        return {"enum": list(field.choices)}
    if isinstance(field, serializers.BooleanField):
        return {"type": "boolean"}
    if isinstance(
        field, serializers.IntegerField | serializers.FloatField | serializers.DecimalField
    ):
        kind = "integer" if isinstance(field, serializers.IntegerField) else "number"
        return _bounded({"type": kind}, minimum=field.min_value, maximum=field.max_value)
    if isinstance(field, serializers.CharField):
        return _bounded(
            {"type": "string", **_string_format(field)},
            minLength=field.min_length or (None if field.allow_blank else 1),
            maxLength=field.max_length,
        )
    for field_class, string_format in _FORMATS:
        if isinstance(field, field_class):
            return {"type": "string", "format": string_format}
    return {}  # JSONField and anything unusual: any JSON value


def _string_format(field: serializers.CharField) -> dict[str, str]:
    if isinstance(field, serializers.EmailField):
        return {"format": "email"}
    if isinstance(field, serializers.URLField):
        return {"format": "uri"}
    return {}


def _bounded(schema: dict[str, Any], **bounds: int | float | Decimal | None) -> dict[str, Any]:
    return {**schema, **{name: value for name, value in bounds.items() if value is not None}}
