from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from activity.models import Notification
from activity.notifications import selectors, services
from activity.notifications.filters import NotificationFilter
from activity.notifications.serializers import (
    AnnouncedSerializer,
    AnnouncementSerializer,
    NotificationSerializer,
    PreferenceSerializer,
    UnreadCountSerializer,
)
from activity.views import ActivityCursorPagination
from episode_metadata.common.lookups import integer_id
from episode_metadata.common.preconditions import ConditionalViewMixin, versioned


def _signed_in(request: Request) -> User:
    """The request's user: `IsAuthenticated` has turned everyone else away already."""
    user = request.user
    if not user.is_authenticated:
        raise NotAuthenticated
    return user


class IsStaffToAnnounce(permissions.BasePermission):
    message = "Only staff can send announcements."

    def has_permission(self, request: Request, view) -> bool:
        return view.action != "create" or request.user.is_staff


class NotificationViewSet(
    ConditionalViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The signed-in user's own notifications; anyone else's do not exist for them (404)."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    pagination_class = ActivityCursorPagination
    permission_classes = [permissions.IsAuthenticated, IsStaffToAnnounce]
    queryset = Notification.objects.none()  # for the schema; requests use get_queryset()
    # Notifications have no versions; the preferences do, and a PUT of them honours If-Match.
    conditional_actions = frozenset({"preferences"})

    def get_queryset(self):
        return selectors.notification_list(_signed_in(self.request))

    def get_object(self) -> Notification:
        # OPTIONS asks for the object of every PUT, the preferences' too, which has no id.
        notification_id = integer_id(self.kwargs.get(self.lookup_field, ""), "notification")
        return get_object_or_404(self.get_queryset(), pk=notification_id)

    @extend_schema(request=AnnouncementSerializer, responses={201: AnnouncedSerializer})
    def create(self, request: Request) -> Response:
        announcement = AnnouncementSerializer(data=request.data)
        announcement.is_valid(raise_exception=True)
        created = services.announce(sender=_signed_in(request), **announcement.validated_data)
        return Response({"recipients": len(created)}, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Notification) -> None:
        services.delete(instance)

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        notification = services.mark_read(self.get_object())
        return Response(self.get_serializer(notification).data)

    @extend_schema(request=None, responses={200: UnreadCountSerializer})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        services.mark_all_read(_signed_in(request))
        return self._unread_count(request)

    @extend_schema(responses={200: UnreadCountSerializer})
    @action(detail=False, url_path="unread-count", filterset_class=None, pagination_class=None)
    def unread_count(self, request: Request) -> Response:
        return self._unread_count(request)

    def _unread_count(self, request: Request) -> Response:
        unread, capped = selectors.unread_count(_signed_in(request))
        return Response({"unread": unread, "capped": capped})

    @extend_schema(methods=["GET"], responses={200: PreferenceSerializer}, **versioned())
    @extend_schema(
        methods=["PUT"],
        request=PreferenceSerializer,
        responses={200: PreferenceSerializer},
        **versioned(),
    )
    @action(
        detail=False,
        methods=["get", "put"],
        filterset_class=None,
        pagination_class=None,
        serializer_class=PreferenceSerializer,
    )
    def preferences(self, request: Request) -> Response:
        if request.method == "PUT":
            incoming = PreferenceSerializer(data=request.data)
            incoming.is_valid(raise_exception=True)
            preference = services.set_muted_types(
                _signed_in(request),
                incoming.validated_data["muted_types"],
                if_match=self.if_match,
            )
            return Response(PreferenceSerializer(preference).data)
        return Response(PreferenceSerializer(selectors.preference(_signed_in(request))).data)
