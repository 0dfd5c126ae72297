"""OPTIONS on every route of the API, as DRF's metadata answers it: never a 500, whatever the
route's view does with the methods it describes."""

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from episodes.models import Episode

pytestmark = pytest.mark.django_db

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def api_routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route under /api/v1/, its groups still named: `episodes/(?P<pk>...)/`."""
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += api_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            routes.append(route)
    return routes


def paths(route: str, ids: list[str]) -> list[str]:
    """The route filled in with each id; the format suffix, when there is one, as `json`."""
    plain = route.replace("^", "").replace("$", "").replace("/?", "/").replace("\\.", ".")
    names = _GROUP.findall(plain)
    values = ids if {"pk", "id", "file_id"} & set(names) else ids[:1]
    filled = []
    for value in values:
        fills = {**dict.fromkeys(names, value), "format": "json", "file_format": "json"}
        path = _filled(plain, fills)
        filled.append("/" + path.replace("/.json", ".json"))
    return filled


def _filled(route: str, fills: dict[str, str]) -> str:
    return _GROUP.sub(lambda group: fills[group[1]], route)


def test_the_routes_are_all_found():
    routes = api_routes()

    assert len(routes) > 40
    assert "api/v1/^notifications/preferences/?$" in routes


@pytest.mark.parametrize("who", ["api", "staff_api"])
@pytest.mark.parametrize("body", [None, '{"muted_types": []}', "[" * 100 + "]" * 100, "{"])
def test_options_on_every_route_is_never_a_500(request, who, body):
    client = request.getfixturevalue(who)
    client.raise_request_exception = False  # a 500 is collected, not raised
    episode = Episode.objects.create(title="Pilot")
    ids = [str(episode.pk), str(uuid.uuid4()), "1", "not-an-id"]
    failures = []
    for route in api_routes():
        for path in paths(route, ids):
            if body is None:
                response = client.options(path)
            else:
                response = client.options(path, body, content_type="application/json")
            if response.status_code >= 500:
                failures.append((path, response.status_code))

    assert failures == []


def test_options_on_the_preferences_with_a_body_describes_the_route(api):
    response = api.options(
        "/api/v1/notifications/preferences/", '{"muted_types": []}', content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Preferences"
