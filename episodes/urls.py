from django.urls import re_path
from rest_framework.routers import DefaultRouter

from episodes.compositions.views import CompositionViewSet
from episodes.files.views import EpisodeFileViewSet
from episodes.follows import EpisodeFollowView
from episodes.views import EpisodeViewSet

router = DefaultRouter()
router.include_root_view = False
# Script writers forget slashes; a missing one must not turn into a 404.
router.trailing_slash = "/?"
router.register("episodes", EpisodeViewSet, basename="episode")
router.register("compositions", CompositionViewSet, basename="composition")
router.register(r"episodes/(?P<id>[^/.]+)/files", EpisodeFileViewSet, basename="episode-file")

urlpatterns = [
    *router.urls,
    re_path(
        r"^episodes/(?P<id>[^/.]+)/follow/?$",
        EpisodeFollowView.as_view(),
        name="episode-follow",
    ),
]
