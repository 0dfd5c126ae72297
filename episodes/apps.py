from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EpisodesConfig(AppConfig):
    name = "episodes"
    verbose_name = "Episodes"

    def ready(self) -> None:
        from episodes import notification_rules, roles, selectors
        from episodes.topics import VIEW_EPISODE, register_topics
        from episodes.tracking import track_models
        from jobs import references as job_references

        track_models()
        register_topics()
        job_references.allow_episodes(selectors.episode_list)
        job_references.read_jobs_on_episodes_with(VIEW_EPISODE)
        notification_rules.register_rules()
        post_migrate.connect(roles.sync_groups, sender=self, dispatch_uid="episodes.roles")
