from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from episode_metadata.common.idempotency.views import IdempotentCreateMixin, idempotent
from episode_metadata.common.lookups import UUIDLookupMixin
from episode_metadata.common.permissions import ModelPermissions, allowed
from episode_metadata.common.preconditions import ConditionalViewMixin, versioned
from episodes.compositions import selectors, services
from episodes.compositions.filters import CompositionFilter
from episodes.compositions.serializers import (
    CompositionSerializer,
    CompositionVersionSerializer,
    RevertSerializer,
)
from episodes.models import Composition
from episodes.users import signed_in
from jobs.serializers import JobSerializer

DELETE_ANY = "episodes.delete_composition"
REVISION = "revision"


class DeletableByCreator(BasePermission):
    """Each change of a composition is a version that can be reverted; deleting it takes its
    history with it, so that is for its creator, or someone allowed to delete any."""

    message = (
        f"Only the composition's creator can delete it, or someone with the permission "
        f"{DELETE_ANY}."
    )

    def has_object_permission(self, request: Request, view, composition: Composition) -> bool:
        if view.action != "destroy":
            return True
        return composition.created_by_id == request.user.pk or allowed(request.user, DELETE_ANY)


@extend_schema_view(
    **{
        name: extend_schema(**versioned(REVISION))
        for name in ("retrieve", "create", "update", "partial_update", "destroy")
    }
)
class CompositionViewSet(
    IdempotentCreateMixin, ConditionalViewMixin, UUIDLookupMixin, viewsets.ModelViewSet
):
    """Thumbnail compositions: episode images laid out and rendered per platform."""

    serializer_class = CompositionSerializer
    filterset_class = CompositionFilter
    permission_classes = [ModelPermissions, DeletableByCreator]
    queryset = Composition.objects.none()  # for the schema; requests use get_queryset()
    action_permissions = {
        # Whoever may edit compositions may delete their own.
        "destroy": "episodes.change_composition",
        "revert": "episodes.change_composition",
        "make_primary": "episodes.change_composition",
        "render": "jobs.add_job",
        "approve": "episodes.approve_composition",
        "publish": "episodes.publish_composition",
    }
    # Every write to a composition honours If-Match, against its revision.
    version_field = REVISION
    conditional_actions = frozenset(
        {"update", "partial_update", "destroy", "revert", "approve", "publish", "make_primary"}
    )

    def get_queryset(self) -> QuerySet[Composition]:
        return selectors.composition_list()

    def perform_create(self, serializer: BaseSerializer[Composition]) -> None:
        serializer.instance = services.create_composition(
            user=signed_in(self.request.user), data=serializer.validated_data
        )

    def perform_update(self, serializer: BaseSerializer[Composition]) -> None:
        # An update's serializer always holds the composition it was given.
        if serializer.instance is None:
            raise NotFound
        serializer.instance = services.update_composition(
            serializer.instance,
            user=signed_in(self.request.user),
            data=serializer.validated_data,
            if_match=self.if_match,
        )

    def perform_destroy(self, instance: Composition) -> None:
        services.delete_composition(instance, if_match=self.if_match)

    @extend_schema(responses={200: CompositionVersionSerializer(many=True)})
    @action(detail=True, serializer_class=CompositionVersionSerializer, filterset_class=None)
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """Every saved version's content, newest first."""
        versions = selectors.version_list(composition=self.get_object())
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=RevertSerializer, responses={200: CompositionSerializer}, **versioned(REVISION)
    )
    @action(detail=True, methods=["post"])
    def revert(self, request: Request, pk: str | None = None) -> Response:
        """Make an earlier version's content the newest version."""
        payload = RevertSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        composition = services.revert_composition(
            self.get_object(),
            user=signed_in(request.user),
            version=payload.validated_data["version"],
            if_match=self.if_match,
        )
        return Response(self.get_serializer(composition).data)

    @extend_schema(request=None, responses={202: JobSerializer})
    @idempotent
    @action(detail=True, methods=["post"])
    def render(self, request: Request, pk: str | None = None) -> Response:
        """Start a `thumbnail_render` job drawing the current version in each format."""
        job = services.start_render(self.get_object(), user=signed_in(request.user))
        context = self.get_serializer_context()
        return Response(JobSerializer(job, context=context).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: CompositionSerializer}, **versioned(REVISION))
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve a draft."""
        composition = services.approve_composition(self.get_object(), if_match=self.if_match)
        return Response(self.get_serializer(composition).data)

    @extend_schema(request=None, responses={200: CompositionSerializer}, **versioned(REVISION))
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        """Publish an approved composition whose current version is rendered."""
        composition = services.publish_composition(self.get_object(), if_match=self.if_match)
        return Response(self.get_serializer(composition).data)

    @extend_schema(request=None, responses={200: CompositionSerializer}, **versioned(REVISION))
    @action(detail=True, methods=["post"], url_path="make-primary")
    def make_primary(self, request: Request, pk: str | None = None) -> Response:
        """Make this the episode's primary composition, in place of any other."""
        composition = services.make_primary(self.get_object(), if_match=self.if_match)
        return Response(self.get_serializer(composition).data)
