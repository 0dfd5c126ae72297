"""The requests `make bench` sends to the service and to the bare app alike
(bench/requests_vs_bare.py), and how many SQL queries each makes, counted in the process of
whichever settings are loaded."""

import json
from dataclasses import dataclass

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # `{episode}` stands for a seeded episode's id
    target: float  # the least requests/s of ours over the bare app's
    body: str | None = None

    def url_path(self, episode_id: str) -> str:
        return self.path.format(episode=episode_id)


ENDPOINTS = (
    Endpoint("list", "GET", "/api/v1/episodes/", target=0.8),
    Endpoint("detail", "GET", "/api/v1/episodes/{episode}/", target=0.8),
    Endpoint(
        "create", "POST", "/api/v1/episodes/", target=0.8, body=json.dumps({"title": "Bench"})
    ),
    Endpoint("/health", "GET", "/health", target=0.9),
)


def count_queries(authorization: str, episode_id: str) -> dict[str, int]:
    """Queries of each endpoint's second request: the first fills what a running server has
    cached already."""
    client = Client(HTTP_AUTHORIZATION=authorization, HTTP_HOST="localhost")
    counts = {}
    for endpoint in ENDPOINTS:
        _call(client, endpoint, episode_id)
        with CaptureQueriesContext(connection) as queries:
            _call(client, endpoint, episode_id)
        counts[endpoint.name] = len(queries)
    return counts


def _call(client: Client, endpoint: Endpoint, episode_id: str) -> None:
    response = client.generic(
        endpoint.method,
        endpoint.url_path(episode_id),
        data=endpoint.body or "",
        content_type="application/json",
    )
    if response.status_code >= 300:
        raise RuntimeError(f"{endpoint.name}: {response.status_code} {response.content[:200]!r}")
