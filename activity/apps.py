from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "activity"
    verbose_name = "Activity log"

    def ready(self) -> None:
        from activity import role_changes

        role_changes.connect()
