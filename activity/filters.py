import django_filters
from django import forms

from activity.models import Action, ActivityLog


class IntegerFilter(django_filters.NumberFilter):
    """A whole number only: the default decimal field would silently truncate `1.5` to 1."""

    field_class = forms.IntegerField


class ActivityFilter(django_filters.FilterSet):
    resource_type = django_filters.CharFilter(max_length=64)
    resource_id = django_filters.CharFilter(max_length=64)
    actor = IntegerFilter(field_name="actor", help_text="The acting user's id.")
    action = django_filters.ChoiceFilter(choices=Action.choices)
    since = django_filters.IsoDateTimeFilter(
        field_name="timestamp", lookup_expr="gte", help_text="At or after this ISO 8601 time."
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="timestamp", lookup_expr="lte", help_text="At or before this ISO 8601 time."
    )
    request_id = django_filters.CharFilter(max_length=64)

    class Meta:
        model = ActivityLog
        fields = ["resource_type", "resource_id", "actor", "action", "since", "until", "request_id"]
