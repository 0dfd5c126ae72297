"""How episodes and what hangs off them appear in the activity log and the event stream, and
who reads their rows in the log: whoever may view that kind of resource."""

from activity import formatting, visibility
from activity.models import Action
from activity.tracking import track
from episodes.models import Composition, CompositionStatus, Episode, EpisodeFile

_COMPOSITION_ACTIONS = {
    CompositionStatus.APPROVED: Action.APPROVE,
    CompositionStatus.PUBLISHED: Action.PUBLISH,
}


def composition_action(changes: dict[str, list]) -> str | None:
    """Approving and publishing are their own actions; a status falling back is an update."""
    if "status" not in changes:
        return None
    return _COMPOSITION_ACTIONS.get(changes["status"][1])


def track_models() -> None:
    track(
        Episode,
        resource_type="episode",
        exclude=frozenset({"updated_at", "version"}),
        episode=lambda episode: episode.pk,
        soft_delete_field="deleted_at",
        summary_fields=(
            "id",
            "title",
            "status",
            "season_number",
            "episode_number",
            "air_date",
            "deleted_at",
            "version",
        ),
    )
    track(
        EpisodeFile,
        resource_type="file",
        episode=lambda file: file.episode_id,
        soft_delete_field="deleted_at",
        create_action=Action.UPLOAD,
        summary_fields=(
            "id",
            "episode_id",
            "original_name",
            "kind",
            "content_type",
            "size",
            "sha256",
            "deleted_at",
        ),
    )
    track(
        Composition,
        resource_type="composition",
        exclude=frozenset({"updated_at", "revision"}),
        episode=lambda composition: composition.episode_id,
        action_for=composition_action,
        summary_fields=(
            "id",
            "episode_id",
            "name",
            "layout",
            "status",
            "is_primary",
            "version",
            "rendered_version",
            "revision",
        ),
    )
    formatting.register("episode", Episode)
    formatting.register("file", EpisodeFile)
    formatting.register("composition", Composition)
    visibility.register("episode", permission="episodes.view_episode")
    visibility.register("file", permission="episodes.view_episodefile")
    visibility.register("composition", permission="episodes.view_composition")
