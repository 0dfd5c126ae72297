"""An outage of Redis, as the operator reads it and as probes see it: first a server
process (`manage.py serve`, with its job worker) on a Redis server of the test's own, stopped
under writes and started again; then the parts in this process (wake-ups, the login
throttle, the outage object). The database is the suite's (PostgreSQL, or SQLite in a
directory of the test's own), so the tests run on both.

Needs redis-server (Debian: redis-server); under CI a missing one fails the test.
"""

import asyncio
import json
import logging
import secrets
import time
import urllib.request
from pathlib import Path

import pytest
import websockets

from episode_metadata.common import outages
from realtime import broadcast, wake_ups
from tests.conftest import PASSWORD
from tests.service_database import ServiceDatabase
from tests.service_process import (
    Server,
    create_token,
    manage_command,
)
from tests.test_ready_outages import PrivateRedis, readiness, wait_for_readiness

# Shorter than outages.REMIND_SECONDS: no "still unavailable" line is due.
OUTAGE_SECONDS = 6.0


class LoggedServer(Server):
    """A server whose log (standard error, a JSON object a line) goes to a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__(env, command=manage_command("serve", "--grace", "1"), log=log)

    def log_since(self, offset: int) -> list[dict]:
        """The records logged past `offset`; a line that is not JSON (a traceback printed
        raw) is kept as a record of its own, so it cannot go unnoticed."""
        text = self.log.read_bytes()[offset:].decode()
        records = []
        for line in text.splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                records.append({"level": "RAW", "logger": "", "message": line})
        return records


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    redis = PrivateRedis()
    redis.start()
    database = server = None
    try:
        var = tmp_path_factory.mktemp("var")
        database = ServiceDatabase(var, JOBS_LEASE_SECONDS="3")
        database.env |= {
            "REDIS_URL": redis.url,
            "REDIS_PREFIX": "outage",
            "LOG_FORMAT": "json",
            "SECRET_KEY": secrets.token_hex(32),
        }
        token = create_token(database.env)
        server = LoggedServer(database.env, var / "server.log").start()
        wait_for_readiness(server, 200)
        yield server, redis, token
    finally:
        if server is not None:
            server.stop()
        if redis.process.poll() is None:
            redis.stop()
        if database is not None:
            database.drop()


def write(server: Server, token: str, title: str) -> str:
    request = urllib.request.Request(
        f"{server.http}/api/v1/episodes/",
        data=json.dumps({"title": title}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())["id"]


def write_through_an_outage(server: Server, redis: PrivateRedis, token: str) -> list[str]:
    """Stop Redis, write and probe for OUTAGE_SECONDS, start Redis again: the episodes
    written. /ready answers 503 throughout, and 200 on the first probe once Redis answers."""
    redis.stop()
    wait_for_readiness(server, 503, failing="channel_layer", timeout=10)
    stopped_at = time.monotonic()
    written: list[str] = []
    while time.monotonic() - stopped_at < OUTAGE_SECONDS:
        written.append(write(server, token, f"written while Redis is down {len(written)}"))
        assert readiness(server)[0] == 503
        time.sleep(0.2)
    redis.start()  # returns once Redis answers PING
    status, body, _ = readiness(server)
    assert status == 200, body
    return written


async def episodes_created(ws, count: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < count:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["event"] == "episode_created":
            ids.append(frame["data"]["episode"]["id"])
    return ids


@pytest.mark.redis
@pytest.mark.server
async def test_a_redis_outage_is_logged_once_each_way_and_ready_follows_redis(service):
    server, redis, token = service
    async with websockets.connect(f"{server.ws}/ws/events/?token={token}") as ws:
        await ws.send(json.dumps({"type": "subscribe", "topics": ["episodes"]}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["event"] == "subscribed"
        await asyncio.to_thread(wait_for_readiness, server, 200)
        offset = server.log.stat().st_size

        written = await asyncio.to_thread(write_through_an_outage, server, redis, token)

        # The socket's server caught up from the activity log: each write, once, in order.
        assert await episodes_created(ws, len(written)) == written
    await asyncio.sleep(0.5)  # the last lines reach the file

    records = server.log_since(offset)
    assert not [r for r in records if r["level"] == "RAW" or "exception" in r], records
    warnings = [r for r in records if r["level"] in ("WARNING", "ERROR", "CRITICAL")]
    assert [(r["logger"], r["message"].split(" (")[0]) for r in warnings] == [
        ("episode_metadata.common.outages", "Redis is unavailable")
    ], warnings
    assert "ConnectionError" in warnings[0]["message"]
    back = [r for r in records if r["logger"] == "episode_metadata.common.outages"][1:]
    assert [(r["level"], r["message"].split(" after ")[0]) for r in back] == [
        ("INFO", "Redis is back")
    ], back


@pytest.mark.redis
@pytest.mark.server
async def test_the_end_of_an_outage_is_logged_with_no_traffic_to_tell(service):
    """No write, no probe: the hub of a server with a client notices Redis is back."""
    server, redis, token = service
    async with websockets.connect(f"{server.ws}/ws/events/?token={token}") as ws:
        await ws.send(json.dumps({"type": "subscribe", "topics": ["episodes"]}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["event"] == "subscribed"
        await asyncio.to_thread(wait_for_readiness, server, 200)
        offset = server.log.stat().st_size

        await asyncio.to_thread(redis.stop)
        await asyncio.to_thread(wait_for_line, server, offset, "Redis is unavailable")
        await asyncio.to_thread(redis.start)
        back = await asyncio.to_thread(wait_for_line, server, offset, "Redis is back")

    assert back["level"] == "INFO"


def wait_for_line(server: LoggedServer, offset: int, start: str, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in server.log_since(offset) if r["message"].startswith(start)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no {start!r} in {server.log_since(offset)}"
        time.sleep(0.1)


@pytest.fixture
def private_redis(settings):
    """A Redis server of the test's own as this process's channel layer."""
    redis = PrivateRedis()
    redis.start()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis.url], "prefix": "outage"},
        }
    }
    yield redis
    broadcast._wake_ups.drop()
    if redis.process.poll() is None:
        redis.stop()


@pytest.mark.redis
def test_a_wake_up_written_to_a_stopped_redis_does_not_end_the_outage(private_redis, monkeypatch):
    """The socket of a Redis that just stopped takes one more write; only answers count."""
    monkeypatch.setattr(outages, "REDIS", outages.Outage("Redis"))
    monkeypatch.setattr(wake_ups, "READ_ANSWERS_SECONDS", 60.0)
    broadcast.announce_activity()
    private_redis.stop()
    outages.REDIS.failed(ConnectionError("Connection closed by server."))  # the layer's reader

    broadcast.announce_activity()

    assert outages.REDIS.ongoing


# The outage object on its own, in this process.


@pytest.fixture
def outage(monkeypatch) -> outages.Outage:
    monkeypatch.setattr(outages, "REMIND_SECONDS", 0.3)
    return outages.Outage("Redis")


def test_an_outage_is_a_warning_then_a_reminder_per_interval_then_an_info(outage, caplog):
    caplog.set_level(logging.INFO, logger="episode_metadata.common.outages")
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        outage.failed(ConnectionError("Connection refused"))
        time.sleep(0.01)
    outage.succeeded()
    outage.succeeded()

    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines[0] == ("WARNING", "Redis is unavailable (ConnectionError: Connection refused)")
    reminders = lines[1:-1]
    assert 2 <= len(reminders) <= 3
    assert all(
        level == "WARNING" and message.startswith("Redis is still unavailable after ")
        for level, message in reminders
    )
    assert lines[-1] == ("INFO", "Redis is back after 1 s")
    assert not any(r.exc_info for r in caplog.records)


def test_a_success_without_an_outage_logs_nothing(outage, caplog):
    caplog.set_level(logging.INFO, logger="episode_metadata.common.outages")

    outage.succeeded()
    outage.failed(TimeoutError())
    outage.succeeded()

    assert [r.getMessage() for r in caplog.records] == [
        "Redis is unavailable (TimeoutError)",
        "Redis is back after 0 s",
    ]


# The login throttle, which counts in the cache: Redis, where REDIS_URL is set.

UNREACHABLE_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


@pytest.mark.django_db
def test_logging_in_works_while_the_cache_is_down(anon, user, settings, monkeypatch, caplog):
    monkeypatch.setattr(outages, "REDIS", outages.Outage("Redis"))
    settings.CACHES = UNREACHABLE_CACHE
    caplog.set_level(logging.INFO)

    for _ in range(2):
        response = anon.post(
            "/api/v1/auth/login", {"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.content

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "Redis is unavailable (ConnectionError: Error 111 connecting to 127.0.0.1:1. "
        "Connection refused.)"
    ]
