from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from episode_metadata import front, health
from episode_metadata.common import errors
from episode_metadata.metrics import views as metrics
from realtime import asyncapi
from realtime.dashboard.views import dashboard

api_v1 = [
    path("auth/", include("episode_metadata.auth.urls")),
    path("", include("episodes.urls")),
    path("", include("activity.urls")),
    path("", include("jobs.urls")),
    path("", include("realtime.urls")),
    path("", include("realtime.webhooks.urls")),
]

urlpatterns = [
    path("", front.home, name="home"),
    path("favicon.ico", front.favicon, name="favicon"),
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("ping", health.ping, name="ping"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/asyncapi.yaml", asyncapi.document, name="asyncapi"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api-auth/", include("rest_framework.urls")),
    path("dashboard/", dashboard, name="dashboard"),
    path("admin/", admin.site.urls),
    # Anything else under /api/ is an unknown endpoint: answer in JSON even with DEBUG on,
    # whatever the method (no CSRF check: there is nothing here to protect).
    re_path(r"^api/", csrf_exempt(errors.not_found)),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.not_found
handler500 = errors.server_error
