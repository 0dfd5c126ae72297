"""A request's objects are freed by reference counting once it is answered: none is left for
the cyclic garbage collector, whose runs hold every request of the process."""

import gc
import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIRequest
from knox.models import AuthToken
from rest_framework.fields import Field
from rest_framework.request import Request

from activity.models import ActivityLog
from episode_metadata.common.http_handler import SyncRequestHandler
from episodes import services
from episodes.models import Episode

pytestmark = pytest.mark.django_db(transaction=True)


async def get_over_asgi(handler: SyncRequestHandler, path: str, token: str) -> tuple[int, dict]:
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    communicator = ApplicationCommunicator(handler, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    body = b""
    while True:
        message = await communicator.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(10)
    return start["status"], json.loads(body)


def _left_for_the_collector(kinds: tuple[type, ...]) -> list[str]:
    """The objects of `kinds` that only the cyclic collector would free."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return sorted({type(obj).__name__ for obj in gc.garbage if isinstance(obj, kinds)})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest.mark.parametrize("path", ["/api/v1/episodes/?page=1", "/api/v1/activities/", "detail"])
def test_a_served_request_leaves_nothing_to_the_cyclic_collector(path, user, settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    _, token = AuthToken.objects.create(user=user)
    episode = services.create_episode(user=user, data={"title": "Pilot"})
    path = f"/api/v1/episodes/{episode.pk}/" if path == "detail" else path
    handler = SyncRequestHandler()
    get = async_to_sync(get_over_asgi)
    get(handler, path, token)  # what a first request sets up stays for good
    gc.collect()
    gc.disable()
    try:
        status, body = get(handler, path, token)
        left = _left_for_the_collector((Episode, ActivityLog, Request, ASGIRequest, Field))
    finally:
        gc.enable()

    assert status == 200, body
    assert left == []
