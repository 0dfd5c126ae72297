"""Job types of the episodes app."""

import uuid
from typing import Any

from django.tasks import task
from rest_framework import serializers

from episode_metadata.common import context
from episode_metadata.common.serializer_fields import ListFiltersField
from episodes import exports
from episodes.compositions import tasks as composition_tasks  # noqa: F401 - registers its job type
from episodes.files import tasks as file_tasks  # noqa: F401 - registers the files' job types
from episodes.filters import EpisodeFilter
from jobs import runtime
from jobs.registry import job_type
from jobs.results import OutputFileSerializer


class EpisodesExportPayload(serializers.Serializer):
    filters = ListFiltersField(
        EpisodeFilter,
        default=dict,
        help_text="The episode list's filters by their query parameter names (`status`, "
        "`season_number`, `air_date_after`, `search`, ...); a list repeats a parameter.",
    )
    include_deleted = serializers.BooleanField(default=False, help_text="staff only")
    formats = serializers.ListField(
        child=serializers.ChoiceField(choices=exports.FORMATS),
        allow_empty=False,
        default=list(exports.FORMATS),
    )
    include_activity = serializers.BooleanField(
        default=True,
        help_text="each episode's history in the JSON file, its length and latest change in "
        "the CSV file",
    )

    def validate_filters(self, value: dict[str, Any]) -> dict[str, Any]:
        exports.matching_episodes(value)  # raises with a message per bad filter
        return value

    def validate_include_deleted(self, value: bool) -> bool:
        # Whoever enqueues, as the jobs backend names the job's creator; with nobody (a shell,
        # a command) the operator is trusted. The list API shows deleted episodes to staff only.
        user = context.current().get_user()
        if value and user is not None and not user.is_staff:
            raise serializers.ValidationError("Only staff can export deleted episodes.")
        return value

    def validate_formats(self, value: list[str]) -> list[str]:
        return [name for name in exports.FORMATS if name in value]


class EpisodesExportResult(serializers.Serializer):
    count = serializers.IntegerField(min_value=0, help_text="How many episodes were exported.")
    files = serializers.ListField(child=OutputFileSerializer(), help_text="One per format.")


@job_type(
    "episodes_export",
    payload=EpisodesExportPayload,
    result=EpisodesExportResult,
    timeout_seconds=30 * 60,
)
@task
def episodes_export(
    *,
    filters: dict[str, Any] | None = None,
    include_deleted: bool = False,
    formats: list[str] | tuple[str, ...] = exports.FORMATS,
    include_activity: bool = True,
) -> dict[str, Any]:
    """Exports the episodes matching the episode list's `filters`, each with its activity
    history, as JSON and CSV files in the service's file storage; the result names the files."""
    # Named after the job, so its files are easy to find; called outside a worker, afresh.
    return exports.export_episodes(
        filters=filters or {},
        export_id=runtime.current_job_id() or str(uuid.uuid4()),
        include_deleted=include_deleted,
        formats=formats,
        include_activity=include_activity,
        progress=_progress,
    )


def _progress(done: int, total: int) -> None:
    runtime.stop_if_cancelled()
    # 100 is the job's completion, once the files are saved.
    runtime.report_progress(99 * done // total if total else 99, f"{done} of {total} episodes")
