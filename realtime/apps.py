from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Live events"

    def ready(self) -> None:
        from activity import events as activity_events
        from jobs import events as job_events
        from realtime import housekeeping, job_listener
        from realtime.activity_listener import BROADCASTER
        from realtime.job_topics import register_job_topics
        from realtime.webhooks import notification_rules as webhook_rules
        from realtime.webhooks.tracking import track_endpoints

        register_job_topics()
        track_endpoints()
        webhook_rules.register_rules()
        activity_events.plug(BROADCASTER)
        job_events.plug(job_listener)
        housekeeping.register_tasks()
