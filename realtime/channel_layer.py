"""The channel layer as the realtime app uses it.

channels types `get_channel_layer()` as an optional `BaseChannelLayer`, whose `new_channel`
takes no prefix. The layers the service runs on (channels' in-memory layer, channels-redis's
pub/sub layer) all take one, and the pub/sub layer is not a `BaseChannelLayer` at all; so the
realtime app asks for the layer here, typed as what it calls.
"""

from typing import Any, Protocol, cast

from channels.layers import get_channel_layer
from django.core.exceptions import ImproperlyConfigured


class Layer(Protocol):
    async def new_channel(self, prefix: str = ...) -> str: ...
    async def send(self, channel: str, message: dict[str, Any]) -> None: ...
    async def receive(self, channel: str) -> dict[str, Any]: ...
    async def group_add(self, group: str, channel: str) -> None: ...
    async def group_discard(self, group: str, channel: str) -> None: ...
    async def group_send(self, group: str, message: dict[str, Any]) -> None: ...


class RedisLayer(Layer, Protocol):
    """channels-redis's layer, whose message encoding a direct PUBLISH must match."""

    def serialize(self, message: dict[str, Any]) -> bytes: ...


def default() -> Layer:
    layer = get_channel_layer()
    if layer is None:
        raise ImproperlyConfigured("CHANNEL_LAYERS has no 'default' layer.")
    return cast(Layer, layer)


def redis() -> RedisLayer:
    """Only where the settings name channels-redis (see realtime/wake_ups.py)."""
    return cast(RedisLayer, default())
