from django.apps import AppConfig


class EpisodesConfig(AppConfig):
    name = "episodes"
    verbose_name = "Episodes"

    def ready(self) -> None:
        from activity.tracking import track
        from episodes.models import Episode

        track(
            Episode,
            resource_type="episode",
            exclude=frozenset({"updated_at"}),
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
            ),
        )
