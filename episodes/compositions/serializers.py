from rest_framework import serializers

from episode_metadata.common.model_serializer import ModelSerializer
from episode_metadata.common.serializer_fields import (
    ShapedJSONField,
    StrictModelSerializer,
    StrictPrimaryKeyRelatedField,
    StrictUUIDField,
)
from episode_metadata.common.user_serializers import UserSummarySerializer
from episodes import selectors as episode_selectors
from episodes.compositions.layouts import FORMATS, LAYOUTS
from episodes.models import MAX_COMPOSITION_ASSETS, Composition, CompositionVersion

MAX_VERSION = 2_147_483_647


def _repeated(values: list[str]) -> list[str]:
    return sorted({value for value in values if values.count(value) > 1})


class CompositionSerializer(StrictModelSerializer):
    """The content is checked here for shape; whether the assets fit the layout and are
    live images of the episode is the service's rule, since a revert must pass it too."""

    episode = StrictPrimaryKeyRelatedField(
        queryset=episode_selectors.episode_list(),
        pk_field=StrictUUIDField(),
        error_messages={"does_not_exist": 'No live episode has the id "{pk_value}".'},
        help_text="The episode whose images it lays out; fixed once created.",
    )
    layout = serializers.ChoiceField(
        choices=list(LAYOUTS),
        error_messages={
            "invalid_choice": f'"{{input}}" is not a layout. Layouts: {", ".join(LAYOUTS)}.'
        },
    )
    assets = serializers.ListField(
        child=StrictUUIDField(),
        max_length=MAX_COMPOSITION_ASSETS,
        help_text="Ids of image files of the episode, in the layout's order.",
    )
    formats = serializers.ListField(
        child=serializers.ChoiceField(
            choices=list(FORMATS),
            error_messages={
                "invalid_choice": f'"{{input}}" is not a format. Formats: {", ".join(FORMATS)}.'
            },
        ),
        allow_empty=False,
        # Said again as a length, for the schema; the message above is the one given.
        min_length=1,
        error_messages={"empty": "At least one format is required."},
        help_text="The output formats a render makes.",
    )
    created_by = UserSummarySerializer(read_only=True)
    renders = ShapedJSONField(
        serializers.DictField(child=serializers.UUIDField()),
        help_text="The file id the latest render made, by format.",
    )

    class Meta:
        model = Composition
        fields = [
            "id",
            "episode",
            "name",
            "layout",
            "assets",
            "formats",
            "status",
            "is_primary",
            "version",
            "rendered_version",
            "renders",
            "revision",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "is_primary",
            "version",
            "rendered_version",
            "renders",
            "revision",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "status": {"help_text": "Changed by the approve and publish actions only."},
            "is_primary": {"help_text": "Set by the make-primary action."},
            "version": {"help_text": "The content's version: each change of content is one."},
            "rendered_version": {"help_text": "The version the latest completed render drew."},
        }

    def validate_assets(self, value: list) -> list[str]:
        assets = [str(asset) for asset in value]
        repeated = _repeated(assets)
        if repeated:
            raise serializers.ValidationError(f"Assets must be distinct; repeated: {repeated}.")
        return assets

    def validate_formats(self, value: list[str]) -> list[str]:
        repeated = _repeated(value)
        if repeated:
            raise serializers.ValidationError(f"Formats must be distinct; repeated: {repeated}.")
        return value


class CompositionContentSerializer(serializers.Serializer):
    """A version's snapshot: the content a revert restores and a render draws."""

    name = serializers.CharField()
    layout = serializers.ChoiceField(choices=list(LAYOUTS))
    assets = serializers.ListField(child=serializers.UUIDField())
    formats = serializers.ListField(child=serializers.ChoiceField(choices=list(FORMATS)))


class CompositionVersionSerializer(ModelSerializer):
    created_by = UserSummarySerializer(read_only=True)
    snapshot = ShapedJSONField(CompositionContentSerializer)

    class Meta:
        model = CompositionVersion
        fields = ["version", "snapshot", "created_by", "created_at"]
        read_only_fields = fields


class RevertSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, max_value=MAX_VERSION, help_text="The version whose content to restore."
    )
