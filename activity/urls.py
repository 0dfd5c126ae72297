from rest_framework.routers import DefaultRouter

from activity.views import ActivityViewSet

router = DefaultRouter()
router.include_root_view = False
router.trailing_slash = "/?"
router.register("activities", ActivityViewSet, basename="activity")

urlpatterns = router.urls
