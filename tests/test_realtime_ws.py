"""The event stream through channels' WebsocketCommunicator, on the real database and layer."""

import asyncio
import contextvars
import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from knox.models import AuthToken

from activity.models import ActivityLog, RetentionMark
from episode_metadata.asgi import application
from episode_metadata.common.context import ActivityContext, acting
from episodes import services
from realtime.consumers import BURST, MAX_MESSAGE_BYTES
from realtime.hub import get_hub, stop_hub
from tests.conftest import with_role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _stop_hub():
    yield
    await stop_hub()


def give_role(user, role: str | None):
    """Start `user` in a role (a group of episodes/roles.py, or staff; None for no role) as
    the upgrade's migration does, with no `grant` in the activity log: the role is where a
    test starts, not what it checks."""
    if role == "staff":
        type(user).objects.filter(pk=user.pk).update(is_staff=True)
        user.is_staff = True
    elif role is not None:
        user.groups.through.objects.create(user=user, group=Group.objects.get(name=role))
    return user


@database_sync_to_async
def make_user(name="viewer", role="approver", **extra):
    """A user and an API token; an approver unless `role` says otherwise."""
    user = get_user_model().objects.create_user(username=name, password="pw-12345-long", **extra)
    give_role(user, role)
    _, token = AuthToken.objects.create(user=user)
    return user, token


@database_sync_to_async
def change(user, operation, *args, **kwargs):
    """Run an episode service as `user` would through the API."""
    with acting(ActivityContext(source="api", get_user=lambda: user)):
        return operation(*args, user=user, **kwargs)


async def connect(token=None, headers=None, path="/ws/events/"):
    if token:
        path = f"{path}?token={token}"
    communicator = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def receive(communicator, timeout=3):
    return json.loads(await communicator.receive_from(timeout=timeout))


async def hub_caught_up(timeout: float = 5.0) -> None:
    """The hub has read the log up to its last entry: a subscription made now starts after
    it, and no frame of what came before arrives after the subscription."""
    latest = await database_sync_to_async(lambda: ActivityLog.objects.latest("id").id)()
    deadline = time.monotonic() + timeout
    while get_hub().last_id < latest:
        assert time.monotonic() < deadline, "the hub did not read the activity log"
        await asyncio.sleep(0.01)


async def subscribe(communicator, topics, after=None):
    message = {"type": "subscribe", "topics": topics}
    if after is not None:
        message["after"] = after
    await communicator.send_json_to(message)
    frames = []
    while True:
        frame = await receive(communicator)
        if frame["event"] in ("subscribed", "error"):
            return frame, frames
        frames.append(frame)


@pytest.fixture
async def viewer():
    return await make_user()


async def test_without_credentials_the_socket_is_closed_4401():
    communicator = WebsocketCommunicator(application, "/ws/events/")
    await communicator.connect()

    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_a_bad_token_is_closed_4401():
    communicator = WebsocketCommunicator(application, "/ws/events/?token=nope")
    await communicator.connect()

    assert (await communicator.receive_output(timeout=3))["code"] == 4401


async def test_episode_events_arrive_after_commit(viewer):
    user, token = viewer
    await database_sync_to_async(with_role)(user, "editor")  # submits the episode below
    ws = await connect(token)
    ack, _ = await subscribe(ws, ["episodes"])
    assert ack["data"]["topics"] == ["episodes"]

    episode = await change(user, services.create_episode, data={"title": "Live"})
    created = await receive(ws)
    await change(user, services.update_episode, episode, data={"status": "pending"})
    updated = await receive(ws)
    await change(user, services.soft_delete_episode, episode)
    deleted = await receive(ws)
    await change(user, services.restore_episode, episode)
    restored = await receive(ws)

    assert [f["event"] for f in (created, updated, deleted, restored)] == [
        "episode_created",
        "episode_updated",
        "episode_deleted",
        "episode_restored",
    ]
    assert created["id"] < updated["id"] < deleted["id"] < restored["id"]
    assert set(created) == {"id", "event", "topic", "data", "timestamp"}
    assert created["topic"] == "episodes"
    assert created["data"]["episode"]["title"] == "Live"
    assert created["data"]["actor"] == {"id": user.id, "name": "viewer"}
    assert updated["data"]["changed_fields"] == ["status"]
    assert updated["data"]["episode"]["status"] == "pending"
    await ws.disconnect()


class FutureSendCommunicator(WebsocketCommunicator):
    """A server whose ASGI `send` hands back a future rather than a coroutine, as granian's
    does."""

    @property
    def future(self):
        if self._future is None:

            def send(message):
                return asyncio.ensure_future(self.output_queue.put(message))

            self._future = contextvars.Context().run(
                asyncio.create_task, self.application(self.scope, self.input_queue.get, send)
            )
        return self._future


async def test_events_arrive_through_a_server_whose_send_is_not_a_coroutine(viewer):
    user, token = viewer
    ws = FutureSendCommunicator(application, f"/ws/events/?token={token}")
    assert (await ws.connect())[0]
    await subscribe(ws, ["episodes"])

    await change(user, services.create_episode, data={"title": "Through a future"})

    created = await receive(ws)
    assert created["event"] == "episode_created"
    assert created["data"]["episode"]["title"] == "Through a future"
    await ws.disconnect()


async def test_a_rolled_back_change_sends_nothing(viewer):
    user, token = viewer
    ws = await connect(token)
    await subscribe(ws, ["episodes"])

    @database_sync_to_async
    def create_then_roll_back():
        with transaction.atomic():
            services.create_episode(user=user, data={"title": "Never"})
            transaction.set_rollback(True)

    await create_then_roll_back()
    await change(user, services.create_episode, data={"title": "Kept"})

    frame = await receive(ws)
    assert frame["data"]["episode"]["title"] == "Kept"
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_episode_topic_carries_only_that_episode(viewer):
    user, token = viewer
    watched = await change(user, services.create_episode, data={"title": "Watched"})
    ws = await connect(token)
    await subscribe(ws, [f"episode:{watched.pk}"])

    await change(user, services.create_episode, data={"title": "Other"})
    await change(user, services.update_episode, watched, data={"title": "Watched 2"})

    frame = await receive(ws)
    assert frame["topic"] == f"episode:{watched.pk}"
    assert frame["data"]["episode"]["title"] == "Watched 2"
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_overlapping_topics_deliver_each_event_once(viewer):
    user, token = viewer
    episode = await change(user, services.create_episode, data={"title": "Both"})
    ws = await connect(token)
    await subscribe(ws, ["episodes", f"episode:{episode.pk}"])

    await change(user, services.update_episode, episode, data={"title": "Both 2"})

    frame = await receive(ws)
    assert frame["topic"] == f"episode:{episode.pk}"
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_unsubscribe_stops_delivery(viewer):
    user, token = viewer
    ws = await connect(token)
    await subscribe(ws, ["episodes"])

    await ws.send_json_to({"type": "unsubscribe", "topics": ["episodes"]})
    ack = await receive(ws)
    await change(user, services.create_episode, data={"title": "Unseen"})

    assert ack["event"] == "unsubscribed"
    assert ack["data"]["topics"] == []
    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "dance"}', "Unknown message type"),
        ('{"type": "subscribe", "topics": ["weather"]}', "Unknown topic"),
        ('{"type": "subscribe", "topics": ["episode:42"]}', "not a valid UUID"),
        ('{"type": "subscribe", "topics": "episodes"}', "non-empty list"),
        ('{"type": "subscribe", "topics": ["episodes"], "after": "x"}', "non-negative integer"),
        ("x" * (MAX_MESSAGE_BYTES + 1), "too large"),
    ],
)
async def test_bad_messages_get_an_error_and_the_socket_stays_open(viewer, raw, message):
    _, token = viewer
    ws = await connect(token)

    await ws.send_to(text_data=raw)
    error = await receive(ws)
    await ws.send_json_to({"type": "ping"})
    pong = await receive(ws)

    assert error["event"] == "error"
    assert message in error["data"]["message"]
    assert pong["event"] == "pong"
    await ws.disconnect()


async def test_floods_are_limited(viewer):
    _, token = viewer
    ws = await connect(token)

    for _ in range(BURST + 20):
        await ws.send_json_to({"type": "ping"})
    frames = [await receive(ws) for _ in range(BURST + 20)]

    events = [f["event"] for f in frames]
    assert events.count("pong") <= BURST + 2
    assert "error" in events
    await ws.disconnect()


async def test_resume_replays_exactly_the_missed_events_then_goes_live(viewer):
    user, token = viewer
    ws = await connect(token)
    await subscribe(ws, ["episodes"])
    episode = await change(user, services.create_episode, data={"title": "Before"})
    seen = (await receive(ws))["id"]
    await ws.disconnect()

    await change(user, services.update_episode, episode, data={"title": "Missed 1"})
    await change(user, services.create_episode, data={"title": "Missed 2"})
    await change(user, services.soft_delete_episode, episode)
    await hub_caught_up()  # so that the missed events are replayed, not all sent live

    ws = await connect(token)
    ack, frames = await subscribe(ws, ["episodes"], after=seen)
    await change(user, services.create_episode, data={"title": "Live again"})
    # Events the hub had not read yet when the subscription began follow the ack, live.
    while not frames or frames[-1]["data"]["episode"]["title"] != "Live again":
        frames.append(await receive(ws))

    assert [f["event"] for f in frames] == [
        "episode_updated",
        "episode_created",
        "episode_deleted",
        "episode_created",
    ]
    ids = [f["id"] for f in frames]
    assert ids == sorted(set(ids)) and ids[0] > seen
    assert ack["data"]["last_id"] >= ids[0]
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_resume_from_before_the_retained_log_requires_resync(viewer):
    user, token = viewer
    await change(user, services.create_episode, data={"title": "Old"})
    await database_sync_to_async(RetentionMark.objects.create)(pk=1, pruned_through=10**6)
    ws = await connect(token)

    await ws.send_json_to({"type": "subscribe", "topics": ["episodes"], "after": 0})
    frame = await receive(ws)

    assert frame["event"] == "resync_required"
    assert frame["data"]["topics"] == ["episodes"]
    assert (await receive(ws))["event"] == "subscribed"
    await ws.disconnect()


async def test_resume_from_an_unknown_future_id_requires_resync(viewer):
    _, token = viewer
    ws = await connect(token)

    await ws.send_json_to({"type": "subscribe", "topics": ["episodes"], "after": 10**9})

    assert (await receive(ws))["event"] == "resync_required"
    await ws.disconnect()


async def test_session_login_from_an_allowed_origin(client, viewer):
    user, _ = viewer
    await database_sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    good = await connect(headers=[(b"cookie", cookie), (b"origin", b"http://localhost")])
    await good.send_json_to({"type": "ping"})
    assert (await receive(good))["event"] == "pong"
    await good.disconnect()

    for origin in (b"http://evil.example.com", None):
        headers = [(b"cookie", cookie)] + ([(b"origin", origin)] if origin else [])
        bad = WebsocketCommunicator(application, "/ws/events/", headers=headers)
        await bad.connect()
        assert (await bad.receive_output(timeout=3))["code"] == 4401


async def test_a_session_that_is_not_a_login_is_refused(client, viewer):
    user, _ = viewer
    await database_sync_to_async(client.force_login)(user)
    key = client.cookies["sessionid"].value
    await database_sync_to_async(user.set_password)("changed in the meantime")
    await database_sync_to_async(user.save)()
    allowed = (b"origin", b"http://localhost")

    for cookie in (f"sessionid={key}", "sessionid=not-a-session", "other=1"):
        ws = WebsocketCommunicator(
            application, "/ws/events/", headers=[(b"cookie", cookie.encode()), allowed]
        )
        await ws.connect()
        assert (await ws.receive_output(timeout=3))["code"] == 4401, cookie


async def test_events_from_many_changes_arrive_in_id_order(viewer):
    user, token = viewer
    ws = await connect(token)
    await subscribe(ws, ["episodes"])

    await asyncio.gather(
        *(change(user, services.create_episode, data={"title": f"E{i}"}) for i in range(10))
    )
    frames = [await receive(ws) for _ in range(10)]

    ids = [f["id"] for f in frames]
    assert ids == sorted(ids)
    assert len(set(ids)) == 10
    await ws.disconnect()
