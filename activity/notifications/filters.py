import django_filters

from activity.models import Notification, NotificationType


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull")
    type = django_filters.MultipleChoiceFilter(choices=NotificationType.choices)

    class Meta:
        model = Notification
        fields = ["unread", "type"]
