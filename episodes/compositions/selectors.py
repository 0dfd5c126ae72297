"""Reads of compositions, their versions and the files they draw."""

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from episode_metadata.common.user_serializers import with_user_summaries
from episodes.models import Composition, CompositionVersion, Episode, EpisodeFile


def composition_list() -> QuerySet[Composition]:
    """Compositions of live episodes: a deleted episode takes its compositions out of view.
    Newest first, the id breaking ties so that pages never overlap."""
    live = Composition.objects.filter(episode__deleted_at__isnull=True)
    return with_user_summaries(live, "created_by").order_by("-created_at", "id")


def version_list(*, composition: Composition) -> QuerySet[CompositionVersion]:
    return with_user_summaries(composition.versions.all(), "created_by").order_by("-version")


def version_snapshot(*, composition: Composition, version: int) -> dict[str, Any] | None:
    """What the composition held at `version`, or None if it never had that version."""
    found = composition.versions.filter(version=version).values_list("snapshot", flat=True)
    return found.first()


def episode_files(*, episode: Episode, ids: Iterable[str]) -> dict[str, EpisodeFile]:
    """The episode's files among `ids`, deleted or not, by id: callers say what is wrong
    with each one that cannot be used."""
    files = EpisodeFile.objects.filter(episode=episode, pk__in=list(ids))
    return {str(file.pk): file for file in files}


def live_render_count(*, composition: Composition) -> int:
    """How many of the files in `renders` for the composition's formats are still live."""
    ids = [composition.renders[name] for name in composition.formats if name in composition.renders]
    return EpisodeFile.objects.filter(
        episode_id=composition.episode_id, pk__in=ids, deleted_at__isnull=True
    ).count()
