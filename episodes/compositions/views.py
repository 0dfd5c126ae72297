from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from episode_metadata.common.lookups import UUIDLookupMixin
from episodes.compositions import selectors, services
from episodes.compositions.filters import CompositionFilter
from episodes.compositions.serializers import (
    CompositionSerializer,
    CompositionVersionSerializer,
    RevertSerializer,
)
from episodes.models import Composition
from jobs.serializers import JobSerializer


class IsStaff(BasePermission):
    """Approving and publishing decide what the audience sees: staff only."""

    message = "Only staff can approve or publish compositions."

    def has_permission(self, request: Request, view) -> bool:
        return bool(request.user and request.user.is_staff)


class DeletableByCreatorOrStaff(BasePermission):
    """Anyone may edit a composition (each change is a version that can be reverted);
    deleting it takes its history with it, so that is for its creator or staff."""

    message = "Only the composition's creator or staff can delete it."

    def has_object_permission(self, request: Request, view, composition: Composition) -> bool:
        if view.action != "destroy":
            return True
        return request.user.is_staff or composition.created_by_id == request.user.pk


class CompositionViewSet(UUIDLookupMixin, viewsets.ModelViewSet):
    """Thumbnail compositions: episode images laid out and rendered per platform."""

    serializer_class = CompositionSerializer
    filterset_class = CompositionFilter
    permission_classes = [IsAuthenticated, DeletableByCreatorOrStaff]
    queryset = Composition.objects.none()  # for the schema; requests use get_queryset()

    def get_queryset(self):
        return selectors.composition_list()

    def perform_create(self, serializer: CompositionSerializer) -> None:
        serializer.instance = services.create_composition(
            user=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer: CompositionSerializer) -> None:
        serializer.instance = services.update_composition(
            serializer.instance, user=self.request.user, data=serializer.validated_data
        )

    def perform_destroy(self, instance: Composition) -> None:
        services.delete_composition(instance)

    @extend_schema(responses={200: CompositionVersionSerializer(many=True)})
    @action(detail=True, serializer_class=CompositionVersionSerializer, filterset_class=None)
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """Every saved version's content, newest first."""
        versions = selectors.version_list(composition=self.get_object())
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=RevertSerializer, responses={200: CompositionSerializer})
    @action(detail=True, methods=["post"])
    def revert(self, request: Request, pk: str | None = None) -> Response:
        """Make an earlier version's content the newest version."""
        payload = RevertSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        composition = services.revert_composition(
            self.get_object(), user=request.user, version=payload.validated_data["version"]
        )
        return Response(self.get_serializer(composition).data)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def render(self, request: Request, pk: str | None = None) -> Response:
        """Start a `thumbnail_render` job drawing the current version in each format."""
        job = services.start_render(self.get_object(), user=request.user)
        context = self.get_serializer_context()
        return Response(JobSerializer(job, context=context).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: CompositionSerializer})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, IsStaff])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve a draft (staff only)."""
        composition = services.approve_composition(self.get_object())
        return Response(self.get_serializer(composition).data)

    @extend_schema(request=None, responses={200: CompositionSerializer})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, IsStaff])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        """Publish an approved composition whose current version is rendered (staff only)."""
        composition = services.publish_composition(self.get_object())
        return Response(self.get_serializer(composition).data)

    @extend_schema(request=None, responses={200: CompositionSerializer})
    @action(detail=True, methods=["post"], url_path="make-primary")
    def make_primary(self, request: Request, pk: str | None = None) -> Response:
        """Make this the episode's primary composition, in place of any other."""
        composition = services.make_primary(self.get_object())
        return Response(self.get_serializer(composition).data)
