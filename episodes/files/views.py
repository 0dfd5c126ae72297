from functools import cached_property

from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from episode_metadata.common.errors import FIELD_ERRORS_SCHEMA
from episode_metadata.common.idempotency.views import idempotent
from episode_metadata.common.lookups import UUIDLookupMixin, parent_or_404
from episode_metadata.common.permissions import ModelPermissions, allowed
from episodes import selectors as episode_selectors
from episodes.files import downloads, selectors, services, uploads
from episodes.files.filters import EpisodeFileFilter
from episodes.files.serializers import EpisodeFileSerializer, UploadedSerializer, UploadSerializer
from episodes.models import Episode, EpisodeFile
from episodes.users import signed_in

EPISODE_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)
RANGE = OpenApiParameter(
    "Range",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="`bytes=<first>-<last>`, to resume a download; any other value gets the whole file.",
)
IF_RANGE = OpenApiParameter(
    "If-Range",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The file's ETag: the range is served only while the file is still that one.",
)
DELETE_ANY = "episodes.delete_episodefile"
# Room for the multipart boundaries and headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


class DeletableByUploader(BasePermission):
    """A file is deleted by whoever uploaded it, or by someone allowed to delete any file."""

    message = (
        f"Only the file's uploader can delete it, or someone with the permission {DELETE_ANY}."
    )

    def has_object_permission(self, request: Request, view, episode_file: EpisodeFile) -> bool:
        if view.action != "destroy":
            return True
        return episode_file.uploaded_by_id == request.user.pk or allowed(request.user, DELETE_ANY)


@extend_schema(parameters=[EPISODE_ID])
class EpisodeFileViewSet(
    UUIDLookupMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """An episode's files. Uploads stream to storage; deleting hides a file at once."""

    serializer_class = EpisodeFileSerializer
    filterset_class = EpisodeFileFilter
    queryset = EpisodeFile.objects.none()  # for the schema; requests use get_queryset()
    # `id` is the episode's, as in every /episodes/{id}/ path.
    lookup_url_kwarg = "file_id"
    parser_classes = [MultiPartParser]  # the one request with a body is an upload
    permission_classes = [ModelPermissions, DeletableByUploader]
    # Whoever may upload may take their own uploads back; anyone's, with the delete permission.
    action_permissions = {"destroy": "episodes.add_episodefile"}

    def initial(self, request: Request, *args, **kwargs) -> None:
        # Before authentication: a session's CSRF check already reads the form.
        if self.action == "create":
            self._refuse_oversized(request)
            request._request.upload_handlers = [uploads.EpisodeFileUploadHandler(request._request)]
        super().initial(request, *args, **kwargs)

    def _refuse_oversized(self, request: Request) -> None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > uploads.largest_limit() + MULTIPART_OVERHEAD:
            raise uploads.too_large(None)

    @cached_property
    def episode(self) -> Episode:
        return parent_or_404(episode_selectors.episode_list(), self.kwargs["id"])

    def get_queryset(self) -> QuerySet[EpisodeFile]:
        return selectors.file_list(episode_id=self.episode.pk)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={
            201: UploadedSerializer,
            400: OpenApiResponse(
                FIELD_ERRORS_SCHEMA, description="Empty file, or content unlike its content type."
            ),
            413: OpenApiResponse(FIELD_ERRORS_SCHEMA, description="Larger than its kind's limit."),
            507: OpenApiResponse(
                FIELD_ERRORS_SCHEMA, description="No room left on the server's disk."
            ),
        },
    )
    @idempotent
    def create(self, request: Request, **kwargs: str) -> Response:
        episode = self.episode  # a missing episode is a 404 before any byte is kept
        received = request.FILES.get(uploads.UPLOAD_FIELD)
        if not isinstance(received, uploads.ReceivedFile):
            raise ValidationError({"file": ["No file was submitted in the `file` field."]})
        episode_file, job = services.upload_file(
            episode=episode, user=signed_in(request.user), received=received
        )
        episode_file.metadata_job = job.pk
        data = UploadedSerializer(episode_file, context=self.get_serializer_context()).data
        location = reverse(
            "episode-file-detail", kwargs={"id": str(episode.pk), "file_id": str(episode_file.pk)}
        )
        return Response(
            data,
            status=status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(location)},
        )

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance: EpisodeFile) -> None:
        services.delete_file(instance, user=signed_in(self.request.user))

    @extend_schema(
        parameters=[RANGE, IF_RANGE],
        responses={
            (200, "*/*"): OpenApiResponse(
                response=OpenApiTypes.ANY, description="The file, with its own content type."
            ),
            (206, "*/*"): OpenApiResponse(
                response=OpenApiTypes.ANY, description="The byte range asked for."
            ),
            302: OpenApiResponse(description="To a signed URL of remote storage."),
            416: OpenApiResponse(description="A range that starts past the file's end."),
        },
    )
    @action(detail=True)
    def download(self, request: Request, **kwargs: str) -> HttpResponseBase:
        episode_file = self.get_object()
        response = downloads.file_response(request._request, episode_file)
        # A player fetching a video in ranges is one download, counted at its first byte.
        starts_at_zero = not response.has_header("Content-Range") or response.get(
            "Content-Range", ""
        ).startswith("bytes 0-")
        if request.method == "GET" and response.status_code < 400 and starts_at_zero:
            services.record_download(episode_file)
        return response
