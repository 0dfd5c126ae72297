from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Live events"

    def ready(self) -> None:
        from activity.signals import activity_committed
        from jobs import events as job_events
        from realtime import job_listener, receivers
        from realtime.job_topics import register_job_topics

        register_job_topics()
        activity_committed.connect(receivers.activity_committed, dispatch_uid="realtime")
        job_events.plug(job_listener)
