import django_filters

from activity.models import Action, ActivityLog
from episode_metadata.common.filters import IntegerFilter, IsoDateTimeFilter


class ActivityFilter(django_filters.FilterSet):
    resource_type = django_filters.CharFilter(max_length=64)
    resource_id = django_filters.CharFilter(max_length=64)
    actor = IntegerFilter(field_name="actor", help_text="The acting user's id.")
    action = django_filters.ChoiceFilter(choices=Action.choices)
    exclude_action = django_filters.ChoiceFilter(
        field_name="action",
        choices=Action.choices,
        exclude=True,
        help_text="Leave this action's rows out: downloads, say, which outnumber the changes.",
    )
    since = IsoDateTimeFilter(
        field_name="timestamp", lookup_expr="gte", help_text="At or after this ISO 8601 time."
    )
    until = IsoDateTimeFilter(
        field_name="timestamp", lookup_expr="lte", help_text="At or before this ISO 8601 time."
    )
    request_id = django_filters.CharFilter(max_length=64)

    class Meta:
        model = ActivityLog
        fields = [
            "resource_type",
            "resource_id",
            "actor",
            "action",
            "exclude_action",
            "since",
            "until",
            "request_id",
        ]
