from django.apps import AppConfig


class EpisodeMetadataConfig(AppConfig):
    """The project package as an app, so its management commands (ensure_admin) are found."""

    name = "episode_metadata"
    verbose_name = "Episode metadata"

    def ready(self) -> None:
        from episode_metadata.auth import schema  # noqa: F401  (registers the OpenAPI extension)
