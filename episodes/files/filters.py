import django_filters

from episodes.models import EpisodeFile, FileKind


class EpisodeFileFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=FileKind.choices)
    # Within one episode's files, found through the (episode, ...) indexes first.
    name = django_filters.CharFilter(
        field_name="original_name", lookup_expr="icontains", max_length=255
    )

    class Meta:
        model = EpisodeFile
        fields = ["kind", "name"]
