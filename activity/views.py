from rest_framework import viewsets
from rest_framework.generics import get_object_or_404

from activity import selectors
from activity.filters import ActivityFilter
from activity.models import ActivityLog
from activity.serializers import ActivityLogSerializer
from episode_metadata.common.lookups import integer_id
from episode_metadata.common.pagination import IdCursorPagination, PageNumberPagination
from episode_metadata.common.permissions import ModelPermissions


class ActivityCursorPagination(IdCursorPagination):
    """Newest first by id. A cursor, not page numbers: rows keep arriving while a reader pages,
    and an offset would shift under them; counting a log this size would be slow besides.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    # The same rules as the numbered pages elsewhere: a nonsense page size is a 400.
    get_page_size = PageNumberPagination.get_page_size


class ActivityViewSet(viewsets.ReadOnlyModelViewSet):
    """The activity log, readable by everyone with the permission to view it: the team shares
    one history."""

    # Names the model for the schema and the permission check (`ModelPermissions`), which
    # would otherwise build the reader's whole queryset only to find it; requests use
    # get_queryset().
    queryset = ActivityLog.objects.none()
    serializer_class = ActivityLogSerializer
    filterset_class = ActivityFilter
    pagination_class = ActivityCursorPagination
    permission_classes = [ModelPermissions]

    def get_queryset(self):
        return selectors.activity_list(self.request.user)

    def get_object(self) -> ActivityLog:
        entry_id = integer_id(self.kwargs[self.lookup_field], "activity")
        entry = get_object_or_404(self.get_queryset(), pk=entry_id)
        self.check_object_permissions(self.request, entry)
        return entry
