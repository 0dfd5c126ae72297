from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from episode_metadata.common.model_serializer import ModelSerializer
from episode_metadata.common.serializer_fields import (
    StrictCharField,
    StrictPrimaryKeyRelatedField,
    StrictUUIDField,
)
from episode_metadata.common.user_serializers import UserSummarySerializer
from jobs import json_schema, references, registry, selectors
from jobs.models import MAX_ATTEMPTS_LIMIT, MAX_PRIORITY, MIN_PRIORITY, WAITING, Job

# Serializer context flag: the error entries of a job leave out their tracebacks.
WITHOUT_TRACEBACKS = "without_tracebacks"
JSON_SCHEMA = {
    "type": "object",
    "additionalProperties": {},
    "description": "A JSON Schema (draft 2020-12) document.",
}


class EpisodeReferenceField(StrictPrimaryKeyRelatedField):
    """Looked up among the episodes registered as referable, when a request is validated."""

    def get_queryset(self) -> QuerySet:
        return references.referable_episodes()


class JobCreateSerializer(serializers.Serializer):
    job_type = StrictCharField(max_length=64, help_text="A name from /api/v1/job-types/.")
    payload = serializers.DictField(
        required=False,
        default=dict,
        help_text="The job type's parameters, as its `payload_schema` describes them.",
    )
    episode = EpisodeReferenceField(
        pk_field=StrictUUIDField(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": 'No live episode has the id "{pk_value}".'},
        help_text="The episode the job works on, if any.",
    )
    priority = serializers.IntegerField(
        min_value=MIN_PRIORITY,
        max_value=MAX_PRIORITY,
        required=False,
        help_text="Higher runs first; default the job type's.",
    )
    max_attempts = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ATTEMPTS_LIMIT,
        required=False,
        help_text="Tries before the job fails for good; default the job type's.",
    )

    def validate_job_type(self, value: str) -> registry.JobType:
        declared = registry.get(value)
        if declared is None or declared.internal:
            names = ", ".join(known.name for known in registry.creatable_types()) or "none"
            raise serializers.ValidationError(f'Unknown job type "{value}". Valid types: {names}.')
        return declared

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The payload's rules depend on the type, so it is checked once the type is known.
        payload = attrs["job_type"].payload(data=attrs["payload"])
        unknown = sorted(set(attrs["payload"]) - set(payload.fields))
        if unknown:
            message = "Not a parameter of this job type; see its payload_schema."
            raise serializers.ValidationError({"payload": {name: [message] for name in unknown}})
        if not payload.is_valid():
            raise serializers.ValidationError({"payload": payload.errors})
        return {**attrs, "payload": payload.validated_data}


class JobErrorSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    attempt = serializers.IntegerField()
    type = serializers.CharField(help_text="The exception's class, with its module.")
    message = serializers.CharField()
    traceback = serializers.CharField(
        required=False, help_text="Only in a single job: lists leave it out to stay light."
    )

    def to_representation(self, error: dict[str, Any]) -> dict[str, Any]:
        data = super().to_representation(error)
        if self.context.get(WITHOUT_TRACEBACKS):
            data.pop("traceback", None)
        return data


class JobSerializer(ModelSerializer):
    result = serializers.SerializerMethodField(
        help_text="What the handler returned. Its `files` carry their download `url`."
    )
    # DRF takes declared fields off the class, so this leaves `Serializer.errors` alone; the
    # stubs cannot tell.
    errors = JobErrorSerializer(  # type: ignore[assignment]
        many=True, read_only=True, help_text="One per failed attempt."
    )
    next_run_at = serializers.SerializerMethodField()
    created_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "job_type",
            "queue_name",
            "status",
            "payload",
            "result",
            "attempts",
            "max_attempts",
            "errors",
            "priority",
            "run_after",
            "next_run_at",
            "progress",
            "progress_message",
            "episode",
            "created_by",
            "worker_id",
            "heartbeat_at",
            "cancel_requested_at",
            "timeout_seconds",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "progress": {"help_text": "Percent done, as the handler last reported it."},
            "heartbeat_at": {"help_text": "Last sign of life from the worker running it."},
            "cancel_requested_at": {
                "help_text": "Set when cancelling a running job; the handler stops soon after."
            },
        }

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_result(self, job: Job) -> Any:
        """The result, with each listed file's download URL: a handler cannot know its job's
        id, so it cannot name the URL itself."""
        listed = selectors.listed_files(job)
        if not listed or job.result is None:
            return job.result
        files = [
            {**entry, "url": download_url(job, entry["format"])}
            if selectors.is_output_file(entry)
            else entry
            for entry in listed
        ]
        return {**job.result, "files": files}

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_run_at(self, job: Job) -> str | None:
        """When a worker may next take the job; null unless it is waiting."""
        if job.status not in WAITING:
            return None
        return serializers.DateTimeField().to_representation(job.run_after)


def download_url(job: Job, file_format: str) -> str:
    # The route's slash is optional, so reverse() leaves it off; the documented form has it.
    return reverse("job-files", kwargs={"pk": job.pk, "file_format": file_format}) + "/"


class JobTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    max_attempts = serializers.IntegerField()
    timeout_seconds = serializers.IntegerField()
    queue = serializers.CharField(source="task.queue_name")
    payload_schema = serializers.SerializerMethodField()
    result_schema = serializers.SerializerMethodField()

    @extend_schema_field(JSON_SCHEMA)
    def get_payload_schema(self, declared: registry.JobType) -> dict[str, Any]:
        """A JSON Schema of the payload, so a client can build a form or check its input."""
        return json_schema.field_schema(declared.payload())

    @extend_schema_field({**JSON_SCHEMA, "nullable": True})
    def get_result_schema(self, declared: registry.JobType) -> dict[str, Any] | None:
        """A JSON Schema of what a completed job's `result` holds; null when it holds nothing."""
        return None if declared.result is None else json_schema.field_schema(declared.result())
