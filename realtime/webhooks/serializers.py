from typing import Any

from rest_framework import serializers

from episode_metadata.common.model_serializer import ModelSerializer
from episode_metadata.common.serializer_fields import (
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


class WebhookDeliverySerializer(ModelSerializer):
    payload = serializers.DictField(
        child=serializers.JSONField(), help_text="The body's `data`: what the live event carries."
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
