from rest_framework.routers import DefaultRouter

from activity.notifications.views import NotificationViewSet
from activity.views import ActivityViewSet

router = DefaultRouter()
router.include_root_view = False
router.trailing_slash = "/?"
router.register("activities", ActivityViewSet, basename="activity")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = router.urls
