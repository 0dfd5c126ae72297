from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from episode_metadata.common.serializer_fields import StrictCharField


@extend_schema_field(
    {"anyOf": [{"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}]}
)
class OptionalEmailField(serializers.EmailField):
    """A user's address, which may be left empty: an empty string is not an email format."""


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=4096, trim_whitespace=False, write_only=True)


class UserSerializer(serializers.ModelSerializer):
    email = OptionalEmailField(read_only=True)

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "is_staff"]
        read_only_fields = fields


class LoginResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    user = UserSerializer()
