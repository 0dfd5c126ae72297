import django_filters
from django.db.models import Q, QuerySet

from episode_metadata.common.filters import (
    IntegerFilter,
    IsoDateTimeFromToRangeFilter,
    StableOrderingFilter,
    StatusFilter,
)
from episodes.models import Episode, EpisodeStatus


class EpisodeFilter(django_filters.FilterSet):
    status = StatusFilter(choices=EpisodeStatus.choices)
    category = django_filters.CharFilter(field_name="categories", lookup_expr="has_element")
    season_number = IntegerFilter(min_value=1)
    air_date = django_filters.DateFromToRangeFilter()
    created = IsoDateTimeFromToRangeFilter(field_name="created_at")
    search = django_filters.CharFilter(method="filter_search", max_length=200)
    ordering = StableOrderingFilter(
        fields=["title", "episode_number", "air_date", "created_at", "updated_at", "status"]
    )

    class Meta:
        model = Episode
        fields = ["status", "category", "season_number", "air_date", "created", "search"]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))
