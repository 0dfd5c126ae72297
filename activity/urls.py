from django.urls import re_path
from rest_framework.routers import DefaultRouter

from activity.notifications.views import EpisodeFollowView, NotificationViewSet
from activity.views import ActivityViewSet

router = DefaultRouter()
router.include_root_view = False
router.trailing_slash = "/?"
router.register("activities", ActivityViewSet, basename="activity")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    *router.urls,
    re_path(
        r"^episodes/(?P<episode_id>[^/.]+)/follow/?$",
        EpisodeFollowView.as_view(),
        name="episode-follow",
    ),
]
