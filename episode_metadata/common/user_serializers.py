from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet

from episode_metadata.common.model_serializer import ModelSerializer

SUMMARY_FIELDS = ("id", "username")


class UserSummarySerializer(ModelSerializer):
    """How other resources name a user (creator, actor): enough to show, nothing private."""

    class Meta:
        model = get_user_model()
        fields = list(SUMMARY_FIELDS)
        read_only_fields = fields


def with_user_summaries[M: Model](queryset: QuerySet[M], *relations: str) -> QuerySet[M]:
    """Join the users that `relations` name, reading only what their summaries show: the
    password hash and the rest of each user's row stay in the database."""
    unread = [
        field.name
        for field in get_user_model()._meta.concrete_fields
        if field.name not in SUMMARY_FIELDS
    ]
    deferred = [f"{relation}__{name}" for relation in relations for name in unread]
    return queryset.select_related(*relations).defer(*deferred)
