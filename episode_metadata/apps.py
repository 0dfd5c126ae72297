import prometheus_client
from django.apps import AppConfig


class EpisodeMetadataConfig(AppConfig):
    """The project package as an app, so its management commands (ensure_admin) are found."""

    name = "episode_metadata"
    verbose_name = "Episode metadata"

    def ready(self) -> None:
        from episode_metadata import (
            housekeeping,
            openapi,  # noqa: F401  (registers the filter extension)
        )
        from episode_metadata.auth import schema  # noqa: F401  (registers the OpenAPI extension)
        from episode_metadata.metrics import gc_pauses
        from episode_metadata.metrics.job_queue import JobQueueCollector
        from episode_metadata.metrics.periodic_tasks import PeriodicTaskCollector

        # The queue's figures come from the database, read at each scrape.
        prometheus_client.REGISTRY.register(JobQueueCollector())
        prometheus_client.REGISTRY.register(PeriodicTaskCollector())
        prometheus_client.REGISTRY.register(gc_pauses.GcPauseCollector())
        gc_pauses.install()
        housekeeping.register_tasks()
        # A `_created` series beside every counter and histogram would double what is
        # stored, for nothing a rate or an alert uses.
        prometheus_client.disable_created_metrics()
