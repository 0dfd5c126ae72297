"""Publishing to every server process through the channel layer, from synchronous code.

Publishing is best effort by design: a durable event is only a wake-up call (the hubs read
the activity log itself, so a lost message delays delivery by at most one poll), and an
ephemeral one is disposable. So a failure is logged and counted, never raised, and a broken
layer is left alone for a few seconds instead of slowing every request.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from episode_metadata import counters

logger = logging.getLogger(__name__)

GROUP = "realtime.events"
SEND_TIMEOUT_SECONDS = 0.5
BACK_OFF_SECONDS = 5.0

_broken_until = 0.0


def announce_activity(entry_id: int) -> None:
    _publish({"type": "realtime.activity", "id": entry_id})


def publish_ephemeral(topic: str, event: str, data: dict[str, Any]) -> None:
    _publish(
        {
            "type": "realtime.ephemeral",
            "topic": topic,
            "event": event,
            "data": data,
            "timestamp": datetime.now(UTC).isoformat(),
        }
    )


async def _send(message: dict[str, Any]) -> None:
    await asyncio.wait_for(get_channel_layer().group_send(GROUP, message), SEND_TIMEOUT_SECONDS)


def _publish(message: dict[str, Any]) -> None:
    global _broken_until
    if time.monotonic() < _broken_until:
        counters.increment(counters.BROADCAST_FAILURES)
        return
    try:
        async_to_sync(_send)(message)
    except Exception as exc:
        _broken_until = time.monotonic() + BACK_OFF_SECONDS
        counters.increment(counters.BROADCAST_FAILURES)
        logger.warning(
            "channel layer publish failed (%s: %s); pausing publishes for %.0f s, "
            "clients catch up from the activity log",
            exc.__class__.__name__,
            exc,
            BACK_OFF_SECONDS,
        )
