import django_filters

from episode_metadata.common.filters import StatusFilter
from episodes.models import Composition, CompositionStatus


class CompositionFilter(django_filters.FilterSet):
    """Each filter is served by an index: `episode` by (episode, -created_at), which also
    gives the list its order, and `status` by the status index."""

    episode = django_filters.UUIDFilter(field_name="episode", help_text="The episode's id.")
    # A column of the composition itself matches no row twice: no DISTINCT over every column.
    status = StatusFilter(choices=CompositionStatus.choices, distinct=False)

    class Meta:
        model = Composition
        fields = ["episode", "status"]
