"""Liveness and readiness, for load balancers, orchestrators and monitoring.

`/health` only says that the process answers: it touches nothing else, so that an outage of
the database or Redis never gets every server process restarted at once. `/ready` says
whether this process can do its work now: the database and the channel layer answer, job
workers are alive and keep up with the queue. Neither needs authentication, so neither
tells more than statuses, counts and ages.
"""

import asyncio
import contextlib
import uuid
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import BaseChannelLayer, channel_layers
from django.conf import settings
from django.db import connection, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from episode_metadata.common import outages
from jobs import selectors

OK, FAILING = "ok", "failing"
# A check that has not answered by then fails: a stopped database or Redis must give a
# prompt 503, not a probe that hangs until the load balancer gives up on it.
CHECK_TIMEOUT_SECONDS = 2.0

Answer = dict[str, Any]


def check_database() -> Answer:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"status": OK}


# Keyed by the process's layer, which settings changes replace (as tests do).
_probe_layers: "weakref.WeakKeyDictionary[BaseChannelLayer, BaseChannelLayer]" = (
    weakref.WeakKeyDictionary()
)


def _probe_layer() -> BaseChannelLayer:
    """A layer of the probes' own, configured as the process's: its connections can be
    dropped after a failed check without taking the hub's subscriptions with them."""
    layer = channel_layers[DEFAULT_CHANNEL_LAYER]
    probe = _probe_layers.get(layer)
    if probe is None:
        probe = _probe_layers[layer] = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    return probe


async def check_channel_layer() -> Answer:
    """A message sent to a new channel of the layer comes back.

    After a failure the probe layer's connections are dropped (channels-redis' `flush()`),
    and the next check connects afresh. Kept, the connection it publishes on, pooled before
    an outage, is handed out after it though Redis closed it (redis-py skips that check with
    its maintenance notifications on, as by default). Checks during the outage fail before
    they publish, so the first one after Redis is back failed on it."""
    layer = _probe_layer()
    try:
        return await _round_trip(layer)
    except BaseException:
        await layer.flush()
        raise


async def _round_trip(layer: BaseChannelLayer) -> Answer:
    # Every layer takes a prefix; the stub has only the base class's method, which takes none.
    channel = await layer.new_channel("health.")  # type: ignore[call-arg]
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.check", "token": token})
    message = await layer.receive(channel)
    await _close_channel(layer, channel)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned a different message")
    return {"status": OK}


async def _close_channel(layer: BaseChannelLayer, channel: str) -> None:
    """Layers let go of a channel when a receive on it is cancelled, as when a consumer
    disconnects; otherwise every probe would leave a subscription behind in Redis. (A
    receive cut short by the timeout has let go already.)"""
    closing = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)  # it starts waiting
    closing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closing


def check_workers() -> Answer:
    """Some job worker renewed its heartbeat within a lease: jobs get run."""
    alive = selectors.live_workers(fresh_within=settings.JOBS_LEASE_SECONDS).count()
    return {"status": OK if alive else FAILING, "alive": alive}


def check_queue() -> Answer:
    """The job due longest has not waited for a worker past the limit."""
    limit = settings.READY_MAX_QUEUE_AGE_SECONDS
    wait = selectors.oldest_due_wait()
    seconds = 0 if wait is None else round(wait.total_seconds())
    return {
        "status": OK if seconds < limit else FAILING,
        "oldest_due_seconds": seconds,
        "max_seconds": limit,
    }


# Database checks run on threads of their own, where a hung connection cannot hold up the
# answer. A few threads at most: checks that time out waiting for one are dropped, so a hung
# database cannot pile up threads or queued checks either.
_database_threads = ThreadPoolExecutor(max_workers=3, thread_name_prefix="ready")


def _closing_connections(check: Callable[[], Answer]) -> Answer:
    try:
        return check()
    finally:
        connections.close_all()  # this thread's: the pool gets them back


async def _on_thread(check: Callable[[], Answer]) -> Answer:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_database_threads, _closing_connections, check)


async def _within_timeout(outage: outages.Outage, pending: Awaitable[Answer]) -> Answer:
    """A check's answer. Its failures are logged as the outage of what it depends on, not a
    line per probe: a load balancer probing every few seconds would fill the log."""
    try:
        answer = await asyncio.wait_for(pending, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        no_answer = f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
        outage.failed(TimeoutError(no_answer))
        return {"status": FAILING, "error": no_answer}
    except Exception as exc:
        outage.failed(exc)
        return {"status": FAILING, "error": exc.__class__.__name__}
    outage.succeeded()
    return answer


async def readiness() -> dict[str, Answer]:
    """Every check at once, each bounded by CHECK_TIMEOUT_SECONDS."""
    pending = {
        "database": (outages.DATABASE, _on_thread(check_database)),
        "channel_layer": (outages.REDIS, check_channel_layer()),
        "workers": (outages.DATABASE, _on_thread(check_workers)),
        "queue": (outages.DATABASE, _on_thread(check_queue)),
    }
    answers = await asyncio.gather(
        *(_within_timeout(outage, check) for outage, check in pending.values())
    )
    return dict(zip(pending, answers, strict=True))


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": OK})


@require_GET
async def ready(request: HttpRequest) -> JsonResponse:
    checks = await readiness()
    is_ready = all(answer["status"] == OK for answer in checks.values())
    return JsonResponse(
        {"status": OK if is_ready else FAILING, "checks": checks},
        status=200 if is_ready else 503,
    )


@require_GET
def ping(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"pong": True})
