from rest_framework import serializers

from activity.models import ActivityLog
from episode_metadata.common.serializer_fields import ShapedJSONField
from episode_metadata.common.user_serializers import UserSummarySerializer


class ActivityMetadataSerializer(serializers.Serializer):
    summary = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="The resource's key fields at the time, by name.",
    )


class ActivityLogSerializer(serializers.ModelSerializer):
    # Null for changes nobody made in person: jobs and system maintenance.
    actor = UserSummarySerializer(read_only=True, allow_null=True)
    changes = ShapedJSONField(
        serializers.DictField(child=serializers.JSONField()),
        help_text="An update's `{field: [before, after]}`; a create's or delete's "
        "`{field: value}` of the whole record.",
    )
    metadata = ShapedJSONField(ActivityMetadataSerializer)

    class Meta:
        model = ActivityLog
        fields = [
            "id",
            "timestamp",
            "actor",
            "actor_label",
            "action",
            "resource_type",
            "resource_id",
            "resource_repr",
            "episode_id",
            "changes",
            "metadata",
            "request_id",
            "ip_address",
            "user_agent",
            "source",
        ]
        read_only_fields = fields
