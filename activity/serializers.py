from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from activity import formatting
from activity.models import ActivityLog
from episode_metadata.common.model_serializer import ModelSerializer
from episode_metadata.common.serializer_fields import ShapedJSONField
from episode_metadata.common.user_serializers import UserSummarySerializer


class ActivityMetadataSerializer(serializers.Serializer):
    summary = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="The resource's key fields at the time, by name.",
    )


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The field's name, as in `changes`.")
    # A serializer has a `label` of its own; the declared field takes its place in the output.
    label = serializers.CharField(  # type: ignore[assignment]
        help_text="The field's name as people read it."
    )
    kind = serializers.ChoiceField(
        choices=formatting.KIND_CHOICES,
        help_text="What the values are. For `datetime`, each is an ISO 8601 instant (or `—` "
        "when empty), for the reader to show in their own time zone; any other is in words.",
    )
    before = serializers.CharField(
        allow_null=True, help_text="The value before; null for a created record."
    )
    after = serializers.CharField(
        allow_null=True, help_text="The value after; null for a deleted record."
    )


class ActivityListSerializer(serializers.ListSerializer):
    def to_representation(self, data):
        """Describe the page's rows together: one query names every user they mention."""
        return super().to_representation(formatting.describe_rows(data))


class ActivityLogSerializer(ModelSerializer):
    # Null for changes nobody made in person: jobs and system maintenance.
    actor = UserSummarySerializer(read_only=True, allow_null=True)
    changes = ShapedJSONField(
        serializers.DictField(child=serializers.JSONField()),
        help_text="An update's `{field: [before, after]}`; a create's or delete's "
        "`{field: value}` of the whole record.",
    )
    metadata = ShapedJSONField(ActivityMetadataSerializer)
    verb = serializers.SerializerMethodField(help_text="The action as people say it: `updated`.")
    description = serializers.SerializerMethodField(
        help_text="The whole row in one line: `alice updated episode “Pilot”`."
    )
    field_changes = serializers.SerializerMethodField()

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
            "verb",
            "description",
            "field_changes",
        ]
        read_only_fields = fields
        list_serializer_class = ActivityListSerializer

    def get_verb(self, entry: ActivityLog) -> str:
        return formatting.description(entry).verb

    def get_description(self, entry: ActivityLog) -> str:
        return formatting.description(entry).text

    @extend_schema_field(FieldChangeSerializer(many=True))
    def get_field_changes(self, entry: ActivityLog) -> list[formatting.FieldChange]:
        """Each field of `changes` with its label and its values in words: user ids as
        names, choices as their labels, lists as lists, dates as dates."""
        return formatting.description(entry).fields
