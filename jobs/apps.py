from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Processing jobs"

    def ready(self) -> None:
        from jobs import housekeeping, notification_rules
        from jobs.tracking import track_jobs

        track_jobs()
        notification_rules.register_rules()
        housekeeping.register_tasks()
        # Job types register themselves when each app's `tasks` module is imported.
        autodiscover_modules("tasks")
