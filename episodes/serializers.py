from collections.abc import Callable

from rest_framework import serializers

from activity.serializers import ActivityLogSerializer
from episode_metadata.common.serializer_fields import StrictCharField, StrictModelSerializer
from episode_metadata.common.user_serializers import UserSummarySerializer
from episodes.models import MAX_CATEGORIES, MAX_CATEGORY_LENGTH, Episode, EpisodeStatus


class EpisodeSerializer(StrictModelSerializer):
    season_number = serializers.IntegerField(
        min_value=1, max_value=2_147_483_647, allow_null=True, required=False
    )
    episode_number = serializers.IntegerField(
        min_value=1, max_value=2_147_483_647, allow_null=True, required=False
    )
    categories = serializers.ListField(
        child=StrictCharField(max_length=MAX_CATEGORY_LENGTH),
        max_length=MAX_CATEGORIES,
        required=False,
    )
    created_by = UserSummarySerializer(read_only=True)
    updated_by = UserSummarySerializer(read_only=True)

    class Meta:
        model = Episode
        fields = [
            "id",
            "title",
            "description",
            "season_number",
            "episode_number",
            "air_date",
            "status",
            "categories",
            "created_by",
            "updated_by",
            "created_at",
            "updated_at",
            "deleted_at",
            "version",
        ]
        read_only_fields = ["id", "created_at", "updated_at", "deleted_at", "version"]
        # The live-only uniqueness of (season, episode) is checked by the service.
        validators: list[Callable[..., object]] = []

    def validate_categories(self, value: list[str]) -> list[str]:
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise serializers.ValidationError(
                f"Categories must be distinct; repeated: {duplicates}."
            )
        return value


class EpisodeViewerSerializer(serializers.Serializer):
    """Someone viewing an episode, named the way a creator is, and since when."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    since = serializers.DateTimeField(read_only=True)


class EpisodeDetailSerializer(EpisodeSerializer):
    viewers = EpisodeViewerSerializer(
        many=True, read_only=True, help_text="The other users viewing the episode now."
    )

    class Meta(EpisodeSerializer.Meta):
        fields = [*EpisodeSerializer.Meta.fields, "viewers"]


class EpisodeStatusCountSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=EpisodeStatus.choices)
    count = serializers.IntegerField(help_text="Live episodes in this status.")


class EpisodeHistorySerializer(ActivityLogSerializer):
    """An entry of an episode's history as an export carries it: the episode is implied by
    where the entry sits, and the request's origin stays in the log."""

    class Meta(ActivityLogSerializer.Meta):
        fields = ["id", "timestamp", "actor", "action", "changes", "source", "request_id"]
        read_only_fields = fields
