"""The places that lean on libraries' non-public parts, held to the releases they were
written for, and their fallbacks when another release is installed.

A failure of a `written_for` test means a pinned library changed: read the module named in
it again against the new release, then move its `..._WRITTEN_FOR` to that release.
"""

import asyncio
import importlib.metadata
import logging
import os
import uuid

import pytest
import uvicorn
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncWebsocketConsumer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from websockets.asyncio.client import connect

from episode_metadata.common.permissions import PermissionsBackend
from realtime import broadcast, hub, wake_ups, websocket_protocol
from realtime.consumers import EventsConsumer
from tests.service_process import free_port

# uvicorn: realtime/websocket_protocol.py


def test_the_websocket_protocol_was_written_for_the_installed_uvicorn():
    assert importlib.metadata.version("uvicorn") == websocket_protocol.UVICORN_WRITTEN_FOR
    assert websocket_protocol.protocol() is websocket_protocol.SharedFrameWebSocketProtocol


# Every attribute of uvicorn's protocol object the subclass reads or calls.
UVICORN_ATTRIBUTES = {
    "conn": object,
    "curr_msg_data_type": (str, type(None)),
    "frames": list,
    "close_sent": bool,
    "transport": object,
    "logger": logging.Logger,
    "scope": dict,
    "handshake_complete": bool,
    "initial_response": (tuple, type(None)),
    "disconnected": bool,
    "writable": asyncio.Event,
    "handle_parser_exception": object,
    "send_receive_event_to_app": object,
}


class EchoApp:
    """Accepts and sends one text."""

    async def __call__(self, scope, receive, send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "hello"})
        while (await receive())["type"] != "websocket.disconnect":
            pass


async def serve_and_greet(ws_protocol, app=None) -> tuple[str | bytes, list]:
    """What a client receives from a server with this protocol (from EchoApp, unless another
    app is given), and the live protocols."""
    port = free_port()
    config = uvicorn.Config(
        app or EchoApp(),
        host="127.0.0.1",
        port=port,
        ws=ws_protocol,
        ws_per_message_deflate=False,
        lifespan="off",
        log_config=None,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        async with connect(f"ws://127.0.0.1:{port}/") as client:
            text = await asyncio.wait_for(client.recv(), 5)
            protocols = list(server.server_state.connections)
    finally:
        server.should_exit = True
        await serving
    return text, protocols


async def test_uvicorns_protocol_has_every_attribute_the_subclass_uses():
    text, protocols = await serve_and_greet(websocket_protocol.SharedFrameWebSocketProtocol)

    assert text == "hello"
    (protocol,) = protocols
    for name, kind in UVICORN_ATTRIBUTES.items():
        assert isinstance(getattr(protocol, name), kind), name


class WritingConsumer(AsyncWebsocketConsumer):
    """Writes its greeting as the hub writes an event, through `_protocol_write`."""

    async def connect(self) -> None:
        await self.accept()
        write = EventsConsumer._protocol_write(self)
        assert write is not None, "the consumer's send is not uvicorn's protocol's own"
        assert write("hello")


async def test_a_consumer_sends_through_the_protocol_it_can_write_to_at_once():
    """channels keeps the send uvicorn gave it as `base_send`, and uvicorn gives its
    protocol's bound `send`: the consumer finds the protocol's `write_text_now` there."""
    text, protocols = await serve_and_greet(
        websocket_protocol.SharedFrameWebSocketProtocol, app=WritingConsumer.as_asgi()
    )

    assert text == "hello"
    assert type(protocols[0]) is websocket_protocol.SharedFrameWebSocketProtocol


@pytest.fixture
def another_uvicorn(monkeypatch):
    monkeypatch.setattr(websocket_protocol, "UVICORN_WRITTEN_FOR", "0.0.0")
    websocket_protocol.protocol.cache_clear()
    yield
    websocket_protocol.protocol.cache_clear()


async def test_another_uvicorn_serves_websockets_with_its_own_protocol(another_uvicorn, caplog):
    chosen = websocket_protocol.protocol()
    text, protocols = await serve_and_greet(chosen)

    assert chosen == "websockets-sansio"
    assert text == "hello"
    assert type(protocols[0]) is not websocket_protocol.SharedFrameWebSocketProtocol
    assert "WebSockets use uvicorn's own protocol" in caplog.text


# channels-redis: realtime/wake_ups.py

needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")


def test_wake_ups_were_written_for_the_installed_channels_redis():
    assert importlib.metadata.version("channels_redis") == wake_ups.CHANNELS_REDIS_WRITTEN_FOR
    assert wake_ups.direct()


@pytest.fixture
def redis_layer(settings):
    """This process's channel layer on Redis under a prefix of the test's own."""
    prefix = f"internals-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]], "prefix": prefix},
        }
    }
    yield RedisPubSubChannelLayer(hosts=[os.environ["REDIS_URL"]], prefix=prefix)
    broadcast._wake_ups.drop()


def received_by_the_hubs_group(layer: RedisPubSubChannelLayer, publish) -> dict:
    """What a member of the hubs' group, on a layer of its own, receives after `publish`."""

    async def exchange() -> dict:
        channel = await layer.new_channel()
        await layer.group_add(hub.GROUP, channel)
        try:
            await asyncio.to_thread(publish)
            return await asyncio.wait_for(layer.receive(channel), 5)
        finally:
            await layer.group_discard(hub.GROUP, channel)
            await layer.flush()

    return async_to_sync(exchange)()


@pytest.mark.redis
@needs_redis
def test_a_direct_wake_up_reaches_the_hubs_group_as_channels_redis_delivers_it(redis_layer):
    failures = []
    sender = wake_ups.WakeUps(hub.GROUP, broadcast.WAKE_UP, failed=failures.append)

    received = received_by_the_hubs_group(redis_layer, sender.send)

    sender.drop()
    assert failures == []
    assert received == broadcast.WAKE_UP


async def test_the_group_channel_is_named_as_channels_redis_names_it():
    layer = RedisPubSubChannelLayer(prefix="check")

    named = layer._get_group_channel_name(hub.GROUP)

    assert wake_ups.group_channel("check", hub.GROUP) == named


@pytest.mark.redis
@needs_redis
def test_with_another_channels_redis_wake_ups_go_through_group_send(redis_layer, monkeypatch):
    monkeypatch.setattr(wake_ups, "direct", lambda: False)
    direct_sends = []
    monkeypatch.setattr(broadcast._wake_ups, "send", lambda: direct_sends.append(1))

    received = received_by_the_hubs_group(redis_layer, broadcast.announce_activity)

    assert received == broadcast.WAKE_UP
    assert direct_sends == []


def test_the_fallback_is_chosen_and_said_when_channels_redis_is_another_release(
    monkeypatch, caplog
):
    monkeypatch.setattr(wake_ups, "CHANNELS_REDIS_WRITTEN_FOR", "0.0.0")
    wake_ups.direct.cache_clear()
    try:
        assert not wake_ups.direct()
    finally:
        wake_ups.direct.cache_clear()
    assert "wake-ups go through the channel layer's group_send" in caplog.text


# Django: episode_metadata/common/permissions.py fills ModelBackend's `_perm_cache`.


@pytest.mark.django_db
def test_a_users_permissions_are_read_in_one_query(django_user_model, django_assert_num_queries):
    user = django_user_model.objects.create_user("mixed")
    user.user_permissions.add(Permission.objects.get(codename="add_episode"))
    user.groups.create(name="readers").permissions.add(Permission.objects.get(codename="view_job"))
    expected = {"episodes.add_episode", "jobs.view_job"}

    with django_assert_num_queries(1):
        held = PermissionsBackend().get_all_permissions(user)
        # ModelBackend, which every check also asks, finds them read.
        assert ModelBackend().get_all_permissions(user) == expected
        assert user.has_perm("episodes.add_episode") and user.has_perm("jobs.view_job")
        assert not user.has_perm("episodes.publish_episode")

    assert held == expected
    assert user.get_all_permissions() == expected
