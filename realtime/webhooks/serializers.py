from typing import Any

from rest_framework import serializers

from activity.serializers import FieldChangeSerializer
from episode_metadata.common.context import Source
from episode_metadata.common.model_serializer import ModelSerializer
from episode_metadata.common.serializer_fields import (
    ShapedJSONField,
    StrictBooleanField,
    StrictCharField,
    StrictModelSerializer,
)
from realtime.webhooks import addresses, catalogue
from realtime.webhooks.models import URL_MAX_LENGTH, WebhookDelivery, WebhookEndpoint


class EventTypeField(serializers.ChoiceField):
    """An event name of the live stream; the choices are read when the field is made, after
    the AsyncAPI document is in place."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=catalogue.event_types(), **kwargs)


def validate_url(value: str) -> None:
    """Shared by the API and the admin: an http(s) URL on a public address."""
    try:
        addresses.target(value)
    except addresses.RefusedAddress as exc:
        raise serializers.ValidationError(str(exc)) from None


class WebhookEndpointSerializer(StrictModelSerializer):
    url = serializers.URLField(
        max_length=URL_MAX_LENGTH,
        validators=[validate_url],
        help_text="Where events are POSTed: http:// or https://, on a public address.",
    )
    event_types = serializers.ListField(
        child=EventTypeField(),
        allow_empty=False,
        help_text="The events to send, named as the live stream names them "
        "(`episode_created`); see /api/asyncapi.yaml.",
    )
    is_active = StrictBooleanField(
        default=True, help_text="Off: nothing is sent to it. On again: its failures are forgotten."
    )
    secret = serializers.CharField(
        read_only=True,
        help_text="Signs every request (`webhook-signature`); verify with a Standard Webhooks "
        "library. POST .../rotate-secret/ replaces it.",
    )
    consecutive_dead = serializers.IntegerField(
        read_only=True, help_text="Deliveries in a row that gave up; too many disable it."
    )
    disabled_reason = serializers.CharField(
        read_only=True, help_text="Why the service turned it off; empty otherwise."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "event_types",
            "description",
            "is_active",
            "secret",
            "consecutive_dead",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class WebhookEventActorSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="Null for the system or a worker.")
    name = serializers.CharField(allow_null=True)


class WebhookEventDataSerializer(serializers.Serializer):
    """A live event's `data`, as the AsyncAPI document's `<Type>EventData` gives it; the
    resource's summary comes under its type's name (`episode`, `file`, ...), which no fixed
    property can name."""

    action = serializers.CharField(help_text="`create`, `update`, `upload`, ...")
    resource_type = serializers.CharField(help_text="`episode`, `file`, `composition`, ...")
    resource_id = serializers.CharField()
    actor = WebhookEventActorSerializer()
    # A serializer has a `source` of its own; the declared field takes its place in the output.
    source = serializers.ChoiceField(choices=Source.choices)  # type: ignore[assignment]
    request_id = serializers.CharField(allow_null=True)
    verb = serializers.CharField()
    description = serializers.CharField()
    field_changes = FieldChangeSerializer(many=True)
    changed_fields = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="An update's changed fields."
    )
    changes = serializers.DictField(
        child=serializers.ListField(min_length=2, max_length=2),
        required=False,
        help_text="An update's `{field: [before, after]}`.",
    )


class WebhookDeliverySerializer(ModelSerializer):
    payload = ShapedJSONField(
        WebhookEventDataSerializer, help_text="The body's `data`: what the live event carries."
    )
    event_type = StrictCharField(help_text="The body's `type`.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "activity_id",
            "event_type",
            "event_timestamp",
            "payload",
            "status",
            "attempts",
            "response_code",
            "duration_ms",
            "last_error",
            "job",
            "created_at",
            "last_attempt_at",
            "delivered_at",
        ]
        read_only_fields = fields
