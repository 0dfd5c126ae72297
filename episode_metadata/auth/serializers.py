from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from episode_metadata.auth import selectors
from episode_metadata.common.model_serializer import ModelSerializer
from episode_metadata.common.serializer_fields import StrictCharField
from episodes.models import EpisodeStatus
from episodes.roles import ROLES


@extend_schema_field(
    {"anyOf": [{"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}]}
)
class OptionalEmailField(serializers.EmailField):
    """A user's address, which may be left empty: an empty string is not an email format."""


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=4096, trim_whitespace=False, write_only=True)


class UserSerializer(ModelSerializer):
    email = OptionalEmailField(read_only=True)

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "is_staff"]
        read_only_fields = fields


class MeSerializer(UserSerializer):
    """The user and what they may do, so that a client offers only what the service would
    allow (the service checks every request all the same)."""

    roles = serializers.SerializerMethodField(
        help_text="The roles the user holds; staff (`is_staff`) may do everything besides."
    )
    permissions = serializers.SerializerMethodField(
        help_text="Every permission the user has, as `app_label.codename`, e.g. "
        "`episodes.approve_episode`; the service checks these."
    )
    transitions = serializers.SerializerMethodField(
        help_text="For each episode status, the statuses this user may move an episode to."
    )

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "roles", "permissions", "transitions"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=[*ROLES])))
    def get_roles(self, user) -> list[str]:
        return selectors.role_names(user)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_permissions(self, user) -> list[str]:
        return selectors.permission_names(user)

    @extend_schema_field(
        serializers.DictField(
            child=serializers.ListField(child=serializers.ChoiceField(EpisodeStatus.choices))
        )
    )
    def get_transitions(self, user) -> dict[str, list[str]]:
        return selectors.transitions(user)


class LoginResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    user = UserSerializer()
