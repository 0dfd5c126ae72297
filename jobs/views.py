import posixpath
from collections.abc import Callable

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from episode_metadata.common.idempotency.views import idempotent
from episode_metadata.common.lookups import UUIDLookupMixin
from episode_metadata.common.permissions import ModelPermissions, allowed, requires
from episode_metadata.common.streaming import stored_file_response
from jobs import selectors, services
from jobs.filters import JobFilter
from jobs.models import Job
from jobs.serializers import (
    WITHOUT_TRACEBACKS,
    JobCreateSerializer,
    JobSerializer,
    JobTypeSerializer,
)

JOB_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)
FILE_FORMAT = OpenApiParameter(
    "file_format",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="A `format` from the job's `result.files`, such as `json`.",
)
CONFLICT = OpenApiResponse(
    response={"$ref": "#/components/schemas/ErrorDetail"},
    description="The job's status does not allow this.",
)


class JobStateConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


CHANGE_ANY = "jobs.change_job"


class ChangeableByCreator(BasePermission):
    """Stopping or rerunning a job is for whoever started it, or someone allowed to change
    any job (approvers, staff)."""

    message = f"Only the job's creator can do this, or someone with the permission {CHANGE_ANY}."

    def has_object_permission(self, request: Request, view, job: Job) -> bool:
        return job.created_by_id == request.user.pk or allowed(request.user, CHANGE_ANY)


class DownloadNegotiation(DefaultContentNegotiation):
    """A file goes out as what it is, whatever the client says it accepts; errors stay JSON."""

    def select_renderer(self, request: Request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class JobViewSet(
    UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Background jobs: a user sees those they started and those on the episodes they may
    read; staff see all."""

    serializer_class = JobSerializer
    filterset_class = JobFilter
    queryset = Job.objects.none()  # for the schema; requests use get_queryset()
    permission_classes = [ModelPermissions]
    # Watching a job is enough to ask; ChangeableByCreator then looks at the job.
    action_permissions = {"cancel": "jobs.view_job", "retry": "jobs.view_job"}

    def get_queryset(self) -> QuerySet[Job]:
        return selectors.job_list(self.request.user)

    def get_serializer_context(self) -> dict:
        # A traceback can run to 20,000 characters per attempt; a page of jobs goes without them.
        return {**super().get_serializer_context(), WITHOUT_TRACEBACKS: self.action == "list"}

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        """Enqueue a job of a registered type; a worker runs it when its turn comes."""
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        episode = data.get("episode")
        job = services.enqueue(
            data["job_type"],
            data["payload"],
            user=request.user,
            episode_id=episode.pk if episode is not None else None,
            priority=data.get("priority"),
            max_attempts=data.get("max_attempts"),
        )
        return Response(self.get_serializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: JobSerializer, 409: CONFLICT})
    @action(
        detail=True, methods=["post"], permission_classes=[ModelPermissions, ChangeableByCreator]
    )
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a waiting job at once, or ask a running one to stop."""
        return self._change_state(services.cancel)

    @extend_schema(request=None, responses={200: JobSerializer, 409: CONFLICT})
    @action(
        detail=True, methods=["post"], permission_classes=[ModelPermissions, ChangeableByCreator]
    )
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Put a failed or cancelled job back in the queue with a fresh set of attempts."""
        return self._change_state(services.retry)

    def _change_state(self, change: Callable[[Job], Job]) -> Response:
        try:
            job = change(self.get_object())
        except services.JobStateError as exc:
            raise JobStateConflict(str(exc)) from exc
        return Response(self.get_serializer(job).data)

    @extend_schema(
        parameters=[JOB_ID, FILE_FORMAT],
        responses={
            (200, "*/*"): OpenApiResponse(
                response=OpenApiTypes.ANY,
                description="The file, as an attachment with its own content type.",
            ),
            (206, "*/*"): OpenApiResponse(
                response=OpenApiTypes.ANY, description="The byte range asked for."
            ),
            416: OpenApiResponse(description="A range that starts past the file's end."),
        },
    )
    @action(
        detail=True,
        url_path=r"files/(?P<file_format>[^/]+)",
        content_negotiation_class=DownloadNegotiation,
    )
    def files(
        self, request: Request, pk: str | None = None, file_format: str = ""
    ) -> HttpResponseBase:
        """Download an output file the job's handler listed in its result."""
        job = self.get_object()
        entry = selectors.output_file(job, file_format)
        if entry is None:
            raise NotFound(f'This job has no "{file_format}" file.')
        try:
            size = default_storage.size(entry["path"])
        except FileNotFoundError:
            raise NotFound(f'The "{file_format}" file of this job is no longer stored.') from None
        return stored_file_response(
            request._request,
            entry["path"],
            size=size,
            content_type=entry.get("content_type") or "application/octet-stream",
            filename=posixpath.basename(entry["path"]),
        )


class JobTypeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """What can be enqueued, with the payload each type takes and its limits."""

    serializer_class = JobTypeSerializer
    filter_backends = []
    permission_classes = [requires("jobs.view_job")]

    def get_queryset(self):
        return selectors.creatable_job_types()
