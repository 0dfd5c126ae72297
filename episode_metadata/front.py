"""The service's front door: `/` and the favicon browsers ask for without being told."""

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_safe


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """People open the bare address first: the dashboard is the page for them, and the login
    page sends them on to it."""
    dashboard = reverse("dashboard")
    if request.user.is_authenticated:
        return HttpResponseRedirect(dashboard)
    return redirect_to_login(dashboard)


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers fetch /favicon.ico for pages that name no icon (JSON, files): the SVG one."""
    return HttpResponseRedirect(static("episode_metadata/favicon.svg"))
