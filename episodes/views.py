from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from activity import selectors as activity_selectors
from activity.filters import ActivityFilter
from activity.models import ActivityLog
from activity.serializers import ActivityLogSerializer
from activity.views import ActivityCursorPagination
from episode_metadata.common.lookups import UUIDLookupMixin
from episode_metadata.common.permissions import ModelPermissions, requires
from episode_metadata.common.preconditions import ConditionalViewMixin, versioned
from episodes import selectors, services
from episodes.filters import EpisodeFilter
from episodes.models import Episode
from episodes.serializers import (
    EpisodeDetailSerializer,
    EpisodeSerializer,
    EpisodeStatusCountSerializer,
    EpisodeViewerSerializer,
)
from episodes.users import signed_in
from realtime.presence import selectors as presence_selectors
from realtime.presence import services as presence

INCLUDE_DELETED = OpenApiParameter(
    "include_deleted",
    OpenApiTypes.BOOL,
    description="Staff only: also show soft-deleted episodes.",
)
EPISODE_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)
HARD = OpenApiParameter(
    "hard", OpenApiTypes.BOOL, description="Staff only: delete for good instead of soft delete."
)


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").strip().lower()
    if raw not in ("true", "false", "1", "0"):
        raise ValidationError({name: ["Must be true or false."]})
    return raw in ("true", "1")


@extend_schema_view(
    list=extend_schema(parameters=[INCLUDE_DELETED]),
    retrieve=extend_schema(
        parameters=[INCLUDE_DELETED], responses={200: EpisodeDetailSerializer}, **versioned()
    ),
    create=extend_schema(**versioned()),
    update=extend_schema(**versioned()),
    partial_update=extend_schema(**versioned()),
    destroy=extend_schema(parameters=[HARD], responses={204: None}, **versioned()),
)
class EpisodeViewSet(ConditionalViewMixin, UUIDLookupMixin, viewsets.ModelViewSet):
    """Episodes. Reading, creating, editing and (soft) deleting need the episode model's
    permissions; each change of status is checked against the workflow by the service."""

    serializer_class = EpisodeSerializer
    filterset_class = EpisodeFilter
    queryset = Episode.objects.none()  # for the schema; requests use get_queryset()
    permission_classes = [ModelPermissions]
    action_permissions = {
        "activity": "episodes.view_episode",
        "restore": "episodes.restore_episode",
    }
    # Every write to an episode honours If-Match.
    conditional_actions = frozenset({"update", "partial_update", "destroy", "restore"})

    def get_queryset(self) -> QuerySet[Episode]:
        return selectors.episode_list(include_deleted=self._include_deleted())

    def _include_deleted(self) -> bool:
        if self.action == "restore":
            return True
        if self.action == "destroy":
            return self._hard_delete()
        return self._staff_flag("include_deleted", "Only staff can see deleted episodes.")

    def _hard_delete(self) -> bool:
        return self._staff_flag("hard", "Only staff can delete episodes for good.")

    def _staff_flag(self, name: str, refusal: str) -> bool:
        if not _flag(self.request, name):
            return False
        if not self.request.user.is_staff:
            raise PermissionDenied(refusal)
        return True

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        """Reading an episode makes the reader one of its viewers for a while; the answer
        names the others, so that people editing it know of each other."""
        episode = self.get_object()
        reader = signed_in(request.user)
        episode.viewers = presence.read_by(episode_id=episode.pk, user_id=reader.pk)
        return Response(
            EpisodeDetailSerializer(episode, context=self.get_serializer_context()).data
        )

    def perform_create(self, serializer: BaseSerializer[Episode]) -> None:
        serializer.instance = services.create_episode(
            user=signed_in(self.request.user), data=serializer.validated_data
        )

    def perform_update(self, serializer: BaseSerializer[Episode]) -> None:
        # An update's serializer always holds the episode it was given.
        if serializer.instance is None:
            raise NotFound
        serializer.instance = services.update_episode(
            serializer.instance,
            user=signed_in(self.request.user),
            data=serializer.validated_data,
            if_match=self.if_match,
        )

    def perform_destroy(self, instance: Episode) -> None:
        if self._hard_delete():
            services.hard_delete_episode(instance, if_match=self.if_match)
        else:
            services.soft_delete_episode(
                instance, user=signed_in(self.request.user), if_match=self.if_match
            )

    @extend_schema(responses={200: EpisodeStatusCountSerializer(many=True)})
    @action(
        detail=False,
        url_path="status-counts",
        serializer_class=EpisodeStatusCountSerializer,
        filterset_class=None,
        pagination_class=None,
    )
    def status_counts(self, request: Request) -> Response:
        """Live episodes per status, every status listed: a dashboard's summary without
        paging through the episodes."""
        counts = [
            {"status": status, "count": count}
            for status, count in selectors.status_counts().items()
        ]
        return Response(self.get_serializer(counts, many=True).data)

    @extend_schema(request=None, responses={200: EpisodeSerializer}, **versioned())
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        episode = services.restore_episode(
            self.get_object(), user=signed_in(request.user), if_match=self.if_match
        )
        return Response(self.get_serializer(episode).data, status=status.HTTP_200_OK)

    @extend_schema(
        parameters=[EPISODE_ID, INCLUDE_DELETED],
        responses={200: ActivityLogSerializer(many=True)},
    )
    @action(
        detail=True,
        # The schema reads the listed model from `queryset`; requests still find the episode.
        queryset=ActivityLog.objects.none(),
        permission_classes=[ModelPermissions, requires("activity.view_activitylog")],
        serializer_class=ActivityLogSerializer,
        filterset_class=ActivityFilter,
        pagination_class=ActivityCursorPagination,
    )
    def activity(self, request: Request, pk: str | None = None) -> Response:
        episode = self.get_object()
        entries = self.filter_queryset(
            activity_selectors.episode_activity(signed_in(request.user), episode_id=episode.pk)
        )
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        parameters=[EPISODE_ID, INCLUDE_DELETED],
        responses={200: EpisodeViewerSerializer(many=True)},
    )
    @action(
        detail=True,
        serializer_class=EpisodeViewerSerializer,
        filterset_class=None,
        pagination_class=None,
    )
    def viewers(self, request: Request, pk: str | None = None) -> Response:
        """Everyone viewing the episode now, the caller too when they are; asking does not
        make the caller a viewer."""
        episode = self.get_object()
        viewers = presence_selectors.episode_viewers(episode_id=episode.pk)
        return Response(self.get_serializer(viewers, many=True).data)
