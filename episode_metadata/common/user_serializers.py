from django.contrib.auth import get_user_model
from rest_framework import serializers


class UserSummarySerializer(serializers.ModelSerializer):
    """How other resources name a user (creator, actor): enough to show, nothing private."""

    class Meta:
        model = get_user_model()
        fields = ["id", "username"]
        read_only_fields = fields
