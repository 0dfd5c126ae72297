from django.apps import AppConfig


class EpisodesConfig(AppConfig):
    name = "episodes"
    verbose_name = "Episodes"

    def ready(self) -> None:
        from episodes.topics import register_topics
        from episodes.tracking import track_models

        track_models()
        register_topics()
