import django_filters
from django import forms
from django.db.models import Q, QuerySet

from episode_metadata.common.filters import IntegerFilter, IsoDateTimeFromToRangeFilter
from episodes.models import Episode, EpisodeStatus


class CommaSeparatedMultipleChoiceField(forms.MultipleChoiceField):
    """Accepts `?status=draft&status=pending` and `?status=draft,pending` alike."""

    def to_python(self, value):
        values = super().to_python(value)
        return [part.strip() for item in values for part in item.split(",") if part.strip()]


class StatusFilter(django_filters.MultipleChoiceFilter):
    field_class = CommaSeparatedMultipleChoiceField


class EpisodeOrderingFilter(django_filters.OrderingFilter):
    def filter(self, qs: QuerySet, value) -> QuerySet:
        qs = super().filter(qs, value)
        if value:
            # A unique tie-breaker keeps pages stable when many rows share a sort value.
            qs = qs.order_by(*qs.query.order_by, "-created_at", "id")
        return qs


class EpisodeFilter(django_filters.FilterSet):
    status = StatusFilter(choices=EpisodeStatus.choices)
    category = django_filters.CharFilter(field_name="categories", lookup_expr="has_element")
    season_number = IntegerFilter(min_value=1)
    air_date = django_filters.DateFromToRangeFilter()
    created = IsoDateTimeFromToRangeFilter(field_name="created_at")
    search = django_filters.CharFilter(method="filter_search", max_length=200)
    ordering = EpisodeOrderingFilter(
        fields=["title", "episode_number", "air_date", "created_at", "updated_at", "status"]
    )

    class Meta:
        model = Episode
        fields = ["status", "category", "season_number", "air_date", "created", "search"]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))
