from django.apps import AppConfig


class EpisodesConfig(AppConfig):
    name = "episodes"
    verbose_name = "Episodes"

    def ready(self) -> None:
        from episodes import notification_rules
        from episodes.tracking import track_models

        track_models()
        notification_rules.register_rules()
