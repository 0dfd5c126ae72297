"""The job type that renders compositions."""

from typing import Any

from django.tasks import task
from rest_framework import serializers

from episode_metadata.common import context
from episode_metadata.common.serializer_fields import StrictUUIDField
from episodes.compositions import selectors, services
from jobs import runtime
from jobs.registry import job_type
from jobs.results import OutputFileSerializer


class ThumbnailRenderPayload(serializers.Serializer):
    composition_id = StrictUUIDField()
    version = serializers.IntegerField(min_value=1, help_text="The version to draw.")

    def validate_composition_id(self, value) -> str:
        return str(value)  # payloads are stored as JSON

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        composition = selectors.composition_list().filter(pk=attrs["composition_id"]).first()
        if composition is None:
            raise serializers.ValidationError({"composition_id": ["No such composition."]})
        if attrs["version"] > composition.version:
            message = f"The composition's latest version is {composition.version}."
            raise serializers.ValidationError({"version": [message]})
        return attrs


class RenderedFileSerializer(OutputFileSerializer):
    file_id = serializers.UUIDField(help_text="The episode file it is stored as.")
    width = serializers.IntegerField(min_value=1)
    height = serializers.IntegerField(min_value=1)


class ThumbnailRenderResult(serializers.Serializer):
    composition_id = serializers.UUIDField()
    version = serializers.IntegerField(min_value=1, help_text="The version drawn.")
    files = serializers.ListField(child=RenderedFileSerializer(), help_text="One per format.")


@job_type(
    services.RENDER_JOB_TYPE,
    payload=ThumbnailRenderPayload,
    result=ThumbnailRenderResult,
    timeout_seconds=10 * 60,
    max_attempts=3,
)
@task
def thumbnail_render(*, composition_id: str, version: int) -> dict[str, Any]:
    """Draws a version of a composition in each of its formats and stores the images as
    files of its episode; the result names the files, which become the composition's renders."""
    return services.render_composition(
        composition_id=composition_id,
        version=version,
        # The job's creator, as the worker names them; the files are theirs.
        user=context.current().get_user(),
        progress=_progress,
    )


def _progress(done: int, total: int) -> None:
    runtime.stop_if_cancelled()
    # 100 is the job's completion, once the files are stored.
    runtime.report_progress(99 * done // total, f"{done} of {total} formats rendered")
