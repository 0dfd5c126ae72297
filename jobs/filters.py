import django_filters
from django.db.models import F, OrderBy

from episode_metadata.common.filters import (
    IntegerFilter,
    IsoDateTimeFromToRangeFilter,
    StableOrderingFilter,
    StatusFilter,
)
from jobs.models import Job, JobStatus

# Unset until a job finishes; sorted after the set ones both ways, on every database.
NULLABLE_ORDERING = frozenset({"finished_at"})


class JobOrderingFilter(StableOrderingFilter):
    # django-filter hands the value to `order_by`, which takes expressions too; the stubs
    # allow only names.
    def get_ordering_value(self, param: str) -> str | OrderBy:  # type: ignore[override]
        value = super().get_ordering_value(param)
        name = value.removeprefix("-")
        if name not in NULLABLE_ORDERING:
            # Plain names keep the default null order, which the created_at indexes can serve.
            return value
        if value.startswith("-"):
            return F(name).desc(nulls_last=True)
        return F(name).asc(nulls_last=True)


class JobFilter(django_filters.FilterSet):
    """Each filter matches an index that leads with its column, then created_at."""

    # A column of the job itself matches no row twice: no DISTINCT over every column.
    status = StatusFilter(choices=JobStatus.choices, distinct=False)
    job_type = django_filters.CharFilter(max_length=64)
    episode = django_filters.UUIDFilter(field_name="episode", help_text="The episode's id.")
    created_by = IntegerFilter(field_name="created_by", help_text="The creating user's id.")
    created = IsoDateTimeFromToRangeFilter(field_name="created_at")
    ordering = JobOrderingFilter(
        fields=["created_at", "priority", "status", "finished_at"],
        help_text="`-` for descending; default `-created_at`.",
    )

    class Meta:
        model = Job
        fields = ["status", "job_type", "episode", "created_by", "created"]
