from django.apps import AppConfig


class EpisodesConfig(AppConfig):
    name = "episodes"
    verbose_name = "Episodes"

    def ready(self) -> None:
        from episodes import notification_rules, selectors
        from episodes.topics import register_topics
        from episodes.tracking import track_models
        from jobs import references as job_references

        track_models()
        register_topics()
        job_references.allow_episodes(selectors.episode_list)
        notification_rules.register_rules()
