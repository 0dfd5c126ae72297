"""The channel layer and cache on Redis, as deployed across processes. Runs when REDIS_URL is set."""

import os

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.core.cache import cache

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set"),
]


def test_configured_layer_is_redis():
    assert isinstance(get_channel_layer(), RedisPubSubChannelLayer)


def test_group_messages_reach_every_member():
    layer = get_channel_layer()

    async def exchange():
        first = await layer.new_channel()
        second = await layer.new_channel()
        await layer.group_add("episodes-test", first)
        await layer.group_add("episodes-test", second)
        await layer.group_send("episodes-test", {"type": "episode.created", "id": "42"})
        received = [await layer.receive(first), await layer.receive(second)]
        await layer.group_discard("episodes-test", first)
        await layer.group_discard("episodes-test", second)
        return received

    received = async_to_sync(exchange)()

    assert [message["id"] for message in received] == ["42", "42"]


def test_a_second_layer_instance_sees_the_same_groups():
    """Two server processes hold separate layer objects; Redis must join them."""
    sender = RedisPubSubChannelLayer(hosts=[os.environ["REDIS_URL"]], prefix=settings.REDIS_PREFIX)
    receiver = get_channel_layer()

    async def exchange():
        channel = await receiver.new_channel()
        await receiver.group_add("cross-process-test", channel)
        await sender.group_send("cross-process-test", {"type": "ping", "n": 7})
        message = await receiver.receive(channel)
        await receiver.group_discard("cross-process-test", channel)
        return message

    assert async_to_sync(exchange)()["n"] == 7


def test_cache_is_shared_through_redis():
    cache.set("redis-cache-test", "shared", 10)

    assert cache.get("redis-cache-test") == "shared"


def test_readiness_round_trips_through_redis_and_leaves_no_subscription():
    """A server process answers probes for weeks on one layer: none may leave a channel."""
    from redis.asyncio import Redis

    from episode_metadata import health

    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]

    async def probe():
        answer = await health.check_channel_layer()
        async with Redis.from_url(os.environ["REDIS_URL"]) as redis:
            return answer, await redis.pubsub_channels(f"{prefix}health.*")

    answer, subscribed = async_to_sync(probe)()

    assert answer == {"status": "ok"}
    assert subscribed == []
