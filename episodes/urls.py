from rest_framework.routers import DefaultRouter

from episodes.views import EpisodeViewSet

router = DefaultRouter()
router.include_root_view = False
# Script writers forget slashes; a missing one must not turn into a 404.
router.trailing_slash = "/?"
router.register("episodes", EpisodeViewSet, basename="episode")

urlpatterns = router.urls
