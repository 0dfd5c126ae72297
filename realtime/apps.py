from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Live events"

    def ready(self) -> None:
        from activity import events
        from realtime.activity_listener import BROADCASTER

        events.plug(BROADCASTER)
