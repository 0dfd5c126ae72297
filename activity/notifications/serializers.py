from django.contrib.auth import get_user_model
from rest_framework import serializers

from activity.models import Notification, NotificationPreference, NotificationType, Priority
from episode_metadata.common.model_serializer import ModelSerializer
from episode_metadata.common.serializer_fields import (
    ShapedJSONField,
    StrictCharField,
    StrictPrimaryKeyRelatedField,
)


class NotificationDataSerializer(serializers.Serializer):
    """What leads back from a notification: the changed resource and its activity row, or an
    announcement and its sender."""

    resource_type = serializers.CharField(required=False)
    resource_id = serializers.CharField(required=False)
    episode_id = serializers.UUIDField(required=False, allow_null=True)
    activity_id = serializers.IntegerField(required=False)
    announcement_id = serializers.CharField(required=False)
    sender_id = serializers.IntegerField(required=False)


class NotificationSerializer(ModelSerializer):
    # DRF takes declared fields off the class, so this leaves `Serializer.data` alone; the
    # stubs cannot tell.
    data = ShapedJSONField(NotificationDataSerializer)  # type: ignore[assignment]

    class Meta:
        model = Notification
        fields = [
            "id",
            "type",
            "title",
            "message",
            "data",
            "priority",
            "read_at",
            "created_at",
            "expires_at",
        ]
        read_only_fields = fields


class AnnouncementSerializer(serializers.Serializer):
    title = StrictCharField(max_length=200)
    message = StrictCharField(max_length=5000, allow_blank=True, default="")
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    recipients = StrictPrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        many=True,
        required=False,
        allow_empty=False,
        help_text="User ids; leave out to tell every active user.",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_recipients(self, value):
        if len(value) > 1000:
            raise serializers.ValidationError("At most 1000 recipients; leave out to tell all.")
        return value


class AnnouncedSerializer(serializers.Serializer):
    recipients = serializers.IntegerField(help_text="How many users were told.")


class PreferenceSerializer(ModelSerializer):
    muted_types = serializers.ListField(
        child=serializers.ChoiceField(choices=NotificationType.choices),
        max_length=len(NotificationType.choices),
        help_text="Notification types this user does not want.",
    )
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Null until the user first sets them."
    )

    class Meta:
        model = NotificationPreference
        fields = ["muted_types", "updated_at", "version"]
        read_only_fields = ["updated_at", "version"]


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()
    capped = serializers.BooleanField(help_text="True when there are more than `unread`.")


class FollowSerializer(serializers.Serializer):
    following = serializers.BooleanField()
