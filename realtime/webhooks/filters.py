import django_filters

from episode_metadata.common.filters import StatusFilter
from realtime.webhooks.models import DeliveryStatus, WebhookDelivery


class DeliveryFilter(django_filters.FilterSet):
    status = StatusFilter(choices=DeliveryStatus.choices, distinct=False)

    class Meta:
        model = WebhookDelivery
        fields = ["status"]
