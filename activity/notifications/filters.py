import django_filters
from django import forms

from activity.models import Notification, NotificationType


class TrueOrFalseField(forms.NullBooleanField):
    """`true` or `false`; Django's field would ignore any other value without a word."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value not in ("true", "false"):
            raise forms.ValidationError("Must be true or false.", code="invalid")
        return value == "true"


class TrueOrFalseFilter(django_filters.BooleanFilter):
    field_class = TrueOrFalseField


class NotificationFilter(django_filters.FilterSet):
    unread = TrueOrFalseFilter(field_name="read_at", lookup_expr="isnull")
    type = django_filters.MultipleChoiceFilter(choices=NotificationType.choices)

    class Meta:
        model = Notification
        fields = ["unread", "type"]
