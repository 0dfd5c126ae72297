from django.urls import include, path
from rest_framework.routers import DefaultRouter

from bench.bare.views import EpisodeViewSet, health

router = DefaultRouter()
router.register("episodes", EpisodeViewSet)

urlpatterns = [
    path("health", health),
    path("api/v1/", include(router.urls)),
]
