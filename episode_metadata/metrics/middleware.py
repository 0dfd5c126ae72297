"""HTTP request metrics, labelled by the URL pattern that answered, never by the raw path."""

import functools
import re
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch
from prometheus_client import Counter, Histogram

from episode_metadata.common.http_handler import RECEIVED_AT

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
OTHER_METHOD = "other"

REQUESTS = Counter(
    "episodes_http_requests",
    "HTTP requests answered, by URL pattern, method and status code.",
    ["route", "method", "status"],
)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DURATION = Histogram(
    "episodes_http_request_duration_seconds",
    "Time from a request's having been received whole to its response (a streamed body's "
    "transfer excluded), its wait for a thread included, by URL pattern and method.",
    ["route", "method"],
    buckets=BUCKETS,
)
WAITED = Histogram(
    "episodes_http_request_wait_seconds",
    "Time a request received whole waited for a thread to run it: a process with more "
    "requests than its threads take shows here first.",
    buckets=BUCKETS,
)

_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<\w+:(\w+)>")


@functools.cache
def route_label(route: str) -> str:
    """`api/v1/episodes/(?P<pk>[^/.]+)/?$` as `api/v1/episodes/<pk>/`: routers' regexes
    and path converters read alike, and there are as many labels as URL patterns."""
    label = _CONVERTER.sub(r"<\1>", _NAMED_GROUP.sub(r"<\1>", route))
    return label.replace("/?", "/").replace("\\.", ".").strip("^$")


def _route(match: ResolverMatch | None) -> str:
    return route_label(match.route) if match is not None else UNMATCHED


def _received_at(request: HttpRequest) -> float | None:
    """When the ASGI handler received the request; None for a request that started on its
    thread (WSGI, the test client)."""
    scope = getattr(request, "scope", None)
    return None if scope is None else scope.get(RECEIVED_AT)


class RequestMetricsMiddleware:
    """First in the chain, so the time covers every other middleware too; under ASGI it
    starts when the request was received whole (`RECEIVED_AT`), before it waited for a thread.

    Runs on every request, writes included: two label lookups, an increment and up to two
    observations.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        received = _received_at(request)
        if received is None:
            received = started
        else:
            WAITED.observe(started - received)
        response = self.get_response(request)
        elapsed = time.perf_counter() - received
        route = _route(request.resolver_match)
        method = request.method if request.method in METHODS else OTHER_METHOD
        REQUESTS.labels(route, method, str(response.status_code)).inc()
        DURATION.labels(route, method).observe(elapsed)
        return response
